//! ReleaseAssessment: the compensation of a refused or abandoned crossing. Every health entry
//! document and phytosanitary certificate an undecided consignment of the assessment took is
//! given back, so that it may be presented for another crossing; decided consignments keep
//! theirs, since their documents served the checks actually made.

use bordermesh_kit::{
    db::Tx,
    error::{self, FieldViolations},
    idempotency::{IdempotentCall, Start},
    validate,
};
use bordermesh_proto::{common::v1 as common, sanitary::v1 as pb};
use tonic::Status;
use uuid::Uuid;

use super::{SanitaryApi, convert};
use crate::domain::ched::{self, Transition};

const RELEASE_ASSESSMENT: &str = "sanitary.ReleaseAssessment";

fn released_reason(subject: &str, what: &str) -> common::Reason {
    common::Reason {
        agency: common::Agency::Sanitary.into(),
        code: "DOCUMENT_RELEASED".into(),
        rule_id: "REG-2017-625-ART-56".into(),
        message: format!("{what} was released: the crossing did not go ahead"),
        subject: subject.to_owned(),
        refusal_code: String::new(),
    }
}

impl SanitaryApi {
    /// Gives back a document still in progress for this consignment; false when it was decided,
    /// moved on, or a concurrent call moved it first.
    async fn release_ched(
        &self,
        tx: &mut Tx,
        reference: &str,
        assessment_id: &str,
        subject: &str,
    ) -> Result<bool, Status> {
        self.store
            .lock_ched(tx, reference)
            .await
            .map_err(|e| error::internal("locking a CHED", e))?;
        let Some(mut stored) = self
            .store
            .get_ched_for_update(tx, reference)
            .await
            .map_err(|e| error::internal("reading a CHED", e))?
        else {
            return Ok(false);
        };
        let linked = stored.assessment_id == assessment_id && stored.subject == subject;
        let Some(from) = convert::status_from_proto(stored.status) else {
            return Ok(false);
        };
        let Ok(to) = ched::transition(from, Transition::Release) else {
            return Ok(false);
        };
        if !linked {
            return Ok(false);
        }
        stored.status = convert::status_to_proto(to).into();
        stored.assessment_id.clear();
        stored.subject.clear();
        self.store
            .update_ched(tx, &stored, convert::status_to_proto(from))
            .await
            .map_err(|e| error::internal("releasing a CHED", e))
    }

    pub(super) async fn release(
        &self,
        request: pb::ReleaseAssessmentRequest,
    ) -> Result<pb::ReleaseAssessmentResponse, Status> {
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let id = Uuid::parse_str(&request.assessment_id)
            .map_err(|_| violations.add("assessment_id", "must be a UUID"))
            .ok();
        let reason =
            validate::required_text("reason", &request.reason, &mut violations).map(str::to_owned);
        let (id, reason) = violations
            .into_result(id.zip(reason))?
            .ok_or_else(|| error::internal("reading a release", "no value and no violation"))?;
        let assessment_id = id.to_string();
        // Which documents to give back, read before the transaction holds the database (on
        // SQLite, its one connection). Documents are then changed first and the assessment
        // last: the order RecordInspectionResult takes too, so that a release and a decision
        // never wait on each other.
        let first_read = error::found(
            self.store.get_assessment(id).await,
            "Assessment",
            &assessment_id,
            "reading an assessment",
        )?;
        let call = IdempotentCall::new(RELEASE_ASSESSMENT, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(saved),
            Start::Fresh(tx) => tx,
        };
        let mut released_cheds = Vec::new();
        if first_read.status() != pb::AssessmentStatus::Released {
            for consignment in &first_read.consignments {
                if consignment.decision.is_some() || consignment.ched_reference.is_empty() {
                    continue;
                }
                let reference = &consignment.ched_reference;
                if self
                    .release_ched(&mut tx, reference, &assessment_id, &consignment.subject)
                    .await?
                {
                    released_cheds.push((consignment.subject.clone(), reference.clone()));
                }
            }
        }
        let mut assessment = self
            .store
            .get_assessment_for_update(&mut tx, &assessment_id)
            .await
            .map_err(|e| error::internal("reading an assessment", e))?
            .ok_or_else(|| error::not_found("Assessment", &assessment_id))?;
        if assessment.status() == pb::AssessmentStatus::Released {
            tracing::info!(assessment_id = %id, changed = false, "assessment released");
            let response = pb::ReleaseAssessmentResponse {
                assessment: Some(assessment),
            };
            return call.commit(self.store.db(), tx, response).await;
        }
        let mut released_certificates = Vec::new();
        for consignment in &mut assessment.consignments {
            if let Some((_, reference)) = released_cheds
                .iter()
                .find(|(subject, _)| *subject == consignment.subject)
            {
                consignment
                    .reasons
                    .push(released_reason(&consignment.subject, reference));
            }
            let certificate = consignment.phytosanitary_certificate_id.clone();
            if consignment.decision.is_some() || certificate.is_empty() {
                continue;
            }
            let released = self
                .store
                .release_certificate(&mut tx, &certificate, &assessment_id, &consignment.subject)
                .await
                .map_err(|e| error::internal("releasing a certificate", e))?;
            if released {
                consignment.reasons.push(released_reason(
                    &consignment.subject,
                    &format!("phytosanitary certificate {certificate}"),
                ));
                released_certificates.push(certificate);
            }
        }
        assessment.status = pb::AssessmentStatus::Released.into();
        assessment.release_reason = reason;
        assessment.release_time = Some(prost_types::Timestamp::from(std::time::SystemTime::now()));
        assessment.released_ched_references = released_cheds
            .into_iter()
            .map(|(_, reference)| reference)
            .collect();
        assessment.released_certificate_ids = released_certificates;
        self.store
            .update_assessment(&mut tx, &assessment)
            .await
            .map_err(|e| error::internal("releasing an assessment", e))?;
        tracing::info!(
            assessment_id = %id,
            cheds = assessment.released_ched_references.len(),
            certificates = assessment.released_certificate_ids.len(),
            changed = true,
            "assessment released"
        );
        let response = pb::ReleaseAssessmentResponse {
            assessment: Some(assessment),
        };
        call.commit(self.store.db(), tx, response).await
    }
}
