//! The health entry document RPCs: Part I (SubmitChed), reads, Part II (RecordInspectionResult),
//! Part III (RecordFollowUp) and CancelChed. The lifecycle itself is `domain::ched`.

use bordermesh_kit::{
    db::Tx,
    error::{self, FieldViolations},
    idempotency::{IdempotentCall, Start},
    validate,
};
use bordermesh_proto::{common::v1 as common, sanitary::v1 as pb};
use chrono::Datelike;
use tonic::{Code, Status};

use super::{SanitaryApi, convert};
use crate::domain::{
    assessment::{self, Finding, Verdict},
    ched::{self, Transition},
    regime::DocumentType,
};

const SUBMIT_CHED: &str = "sanitary.SubmitChed";
const PRESENT_CHED: &str = "sanitary.PresentChed";
const RECORD_INSPECTION_RESULT: &str = "sanitary.RecordInspectionResult";
const RECORD_FOLLOW_UP: &str = "sanitary.RecordFollowUp";
const CANCEL_CHED: &str = "sanitary.CancelChed";

/// Alternative reference numbers tried when a derived one is taken by another submission.
const REFERENCE_ATTEMPTS: usize = 4;

fn reference_field(field: &str, value: &str, violations: &mut FieldViolations) -> Option<String> {
    validate::required_text(field, value, violations).map(str::to_owned)
}

/// The measure as the decision's reason names it (Regulation (EU) 2017/625 Art. 66(3), 67).
fn measure_text(measure: pb::Measure) -> Option<&'static str> {
    match measure {
        pb::Measure::Unspecified => None,
        pb::Measure::Destruction => Some("destruction"),
        pb::Measure::ReDispatch => Some("re-dispatch outside the Union"),
        pb::Measure::SpecialTreatment => Some("special treatment"),
        pb::Measure::OfficialDetention => Some("official detention"),
    }
}

/// Part I as validated: the document it needs and the normalised part.
struct PartI {
    document: DocumentType,
    part_i: pb::ChedPartI,
    country: String,
    arrival: chrono::NaiveDate,
}

impl SanitaryApi {
    fn parse_part_i(&self, request: &pb::SubmitChedRequest) -> Result<PartI, Status> {
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let Some(part) = &request.part_i else {
            violations.add("part_i", "is required");
            return Err(violations.into_status());
        };
        let at = |field: &str| format!("part_i.{field}");
        let code =
            convert::commodity_code(&at("commodity_code"), &part.commodity_code, &mut violations);
        let origin =
            validate::country(&at("origin_country"), &part.origin_country, &mut violations);
        let species = convert::species(
            &self.rules,
            &at("species"),
            &part.species,
            code.as_deref(),
            &mut violations,
        );
        let region = convert::region(&at("origin_region"), &part.origin_region, &mut violations);
        if let Some(quantity) = &part.quantity {
            convert::quantity(&at("quantity"), Some(quantity), &mut violations);
        }
        if !part.net_mass_kg.is_empty() {
            validate::positive_decimal(&at("net_mass_kg"), &part.net_mass_kg, &mut violations);
        }
        let consignor = validate::required_text(&at("consignor"), &part.consignor, &mut violations);
        let consignee = validate::required_text(&at("consignee"), &part.consignee, &mut violations);
        let post = match &part.border_control_post {
            Some(point) => {
                let country = validate::country(
                    &at("border_control_post.country"),
                    &point.country,
                    &mut violations,
                );
                let code = validate::required_text(
                    &at("border_control_post.code"),
                    &point.code,
                    &mut violations,
                );
                country.zip(code.map(str::to_owned))
            }
            None => {
                violations.add(at("border_control_post"), "is required");
                None
            }
        };
        let arrival = validate::date(
            &at("expected_arrival"),
            part.expected_arrival.as_ref(),
            &mut violations,
        );
        let certificate_id = convert::optional_text(
            &at("phytosanitary_certificate_id"),
            &part.phytosanitary_certificate_id,
            &mut violations,
        );
        // Regulation (EU) 2017/625 Art. 47: only goods under border controls have a CHED.
        let document = match (&code, &origin) {
            (Some(code), Some(origin)) => {
                let resolved =
                    self.rules
                        .regimes
                        .resolve(code, species.map(|s| s.group.as_str()), origin);
                if resolved.is_none() {
                    violations.add(
                        at("commodity_code"),
                        "is not a commodity under veterinary or phytosanitary border controls from this origin: no health entry document applies",
                    );
                }
                resolved.map(|r| r.document_type)
            }
            _ => None,
        };
        // Implementing Regulation (EU) 2019/1715 Annex II: Part I of a CHED-A or CHED-PP names
        // the species.
        if matches!(document, Some(DocumentType::ChedA | DocumentType::ChedPp))
            && part.species.trim().is_empty()
        {
            violations.add(at("species"), "is required for live animals and plants");
        }
        let (document, (country, post_code), arrival) = violations
            .into_result(document.zip(post).zip(arrival).map(|((d, p), a)| (d, p, a)))?
            .ok_or_else(|| error::internal("validating Part I", "no value after validation"))?;
        let part_i = pb::ChedPartI {
            commodity_code: code.unwrap_or_default(),
            species: species
                .map(|s| s.scientific_name.clone())
                .unwrap_or_default(),
            origin_country: origin.unwrap_or_default(),
            origin_region: region.unwrap_or_default(),
            quantity: part.quantity.clone(),
            net_mass_kg: part.net_mass_kg.clone(),
            consignor: consignor.unwrap_or_default().to_owned(),
            consignee: consignee.unwrap_or_default().to_owned(),
            border_control_post: Some(common::CrossingPoint {
                code: post_code,
                country: country.clone(),
            }),
            expected_arrival: part.expected_arrival,
            phytosanitary_certificate_id: certificate_id.unwrap_or_default(),
        };
        Ok(PartI {
            document,
            part_i,
            country,
            arrival,
        })
    }

    pub(super) async fn submit_ched(
        &self,
        request: pb::SubmitChedRequest,
    ) -> Result<pb::SubmitChedResponse, Status> {
        let parsed = self.parse_part_i(&request)?;
        let call = IdempotentCall::new(SUBMIT_CHED, &request.request_id, &request);
        if let Some(saved) = call.replay(self.store.db()).await? {
            return Ok(saved);
        }
        let today = super::today();
        let mut ched = pb::Ched {
            reference: String::new(),
            document_type: convert::document_to_proto(Some(parsed.document)).into(),
            status: pb::ChedStatus::New.into(),
            part_i: Some(parsed.part_i),
            submitted_on: Some(validate::date_to_proto(today)),
            late_pre_notification: ched::is_late(today, parsed.arrival),
            ..Default::default()
        };
        let mut tx = call.begin(self.store.db()).await?;
        let mut stored = false;
        for attempt in 0..REFERENCE_ATTEMPTS {
            let seed = format!("{}#{attempt}", request.request_id);
            ched.reference = ched::reference(parsed.document, &parsed.country, today.year(), &seed);
            stored = self
                .store
                .insert_ched(&mut tx, &ched)
                .await
                .map_err(|e| error::internal("storing a CHED", e))?;
            if stored {
                break;
            }
        }
        if !stored {
            return Err(error::internal(
                "storing a CHED",
                "every reference number tried is taken",
            ));
        }
        tracing::info!(reference = %ched.reference, late = ched.late_pre_notification, "CHED Part I submitted");
        call.commit(
            self.store.db(),
            tx,
            pb::SubmitChedResponse { ched: Some(ched) },
        )
        .await
    }

    pub(super) async fn get_ched(&self, reference: &str) -> Result<pb::Ched, Status> {
        let mut violations = FieldViolations::new();
        let reference = reference_field("reference", reference, &mut violations);
        let reference = violations.into_result(reference)?.unwrap_or_default();
        error::found(
            self.store.get_ched(&reference).await,
            "Ched",
            &reference,
            "reading a CHED",
        )
    }

    /// Reads the document for a change inside `tx` and checks the lifecycle allows it.
    async fn ched_for(
        &self,
        tx: &mut Tx,
        reference: &str,
        transition: Transition,
    ) -> Result<(pb::Ched, pb::ChedStatus, ched::Status), Status> {
        let stored = self
            .store
            .get_ched_for_update(tx, reference)
            .await
            .map_err(|e| error::internal("reading a CHED", e))?
            .ok_or_else(|| error::not_found("Ched", reference))?;
        let from = convert::status_from_proto(stored.status)
            .ok_or_else(|| error::internal("reading a CHED", "stored status unknown"))?;
        let to = ched::transition(from, transition).map_err(|not_allowed| {
            error::status(
                Code::FailedPrecondition,
                "CHED_TRANSITION_NOT_ALLOWED",
                format!("{reference}: {not_allowed}"),
            )
        })?;
        Ok((stored, convert::status_to_proto(from), to))
    }

    async fn save_transition(
        &self,
        tx: &mut Tx,
        ched: &pb::Ched,
        from: pb::ChedStatus,
    ) -> Result<(), Status> {
        let saved = self
            .store
            .update_ched(tx, ched, from)
            .await
            .map_err(|e| error::internal("updating a CHED", e))?;
        if saved {
            Ok(())
        } else {
            Err(error::status(
                Code::Aborted,
                "CONCURRENT_USE",
                format!(
                    "{} was changed by a concurrent call; retry the request",
                    ched.reference
                ),
            ))
        }
    }

    pub(super) async fn present_ched(
        &self,
        request: pb::PresentChedRequest,
    ) -> Result<pb::PresentChedResponse, Status> {
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let reference = reference_field("reference", &request.reference, &mut violations);
        if uuid::Uuid::parse_str(&request.assessment_id).is_err() {
            violations.add("assessment_id", "must be a UUID");
        }
        let subject = validate::required_text("subject", &request.subject, &mut violations)
            .map(str::to_owned);
        let (reference, subject) = violations
            .into_result(reference.zip(subject))?
            .unwrap_or_default();
        let call = IdempotentCall::new(PRESENT_CHED, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(saved),
            Start::Fresh(tx) => tx,
        };
        let mut assessment = self
            .store
            .get_assessment_for_update(&mut tx, &request.assessment_id)
            .await
            .map_err(|e| error::internal("reading an assessment", e))?
            .ok_or_else(|| error::not_found("Assessment", &request.assessment_id))?;
        if assessment.status() == pb::AssessmentStatus::Released {
            return Err(error::status(
                Code::FailedPrecondition,
                "ASSESSMENT_RELEASED",
                "the assessment was released: its crossing was refused or abandoned",
            ));
        }
        let Some(goods) = assessment
            .consignments
            .iter_mut()
            .find(|c| c.subject == subject)
        else {
            let mut violations = FieldViolations::new();
            violations.add("subject", "is not a subject of the assessment");
            return Err(violations.into_status());
        };
        let Some(document) = convert::document_from_proto(goods.document_type) else {
            return Err(error::status(
                Code::FailedPrecondition,
                "NO_CHED_REQUIRED",
                format!("{subject} needs no health entry document"),
            ));
        };
        if !goods.ched_reference.is_empty() {
            return Err(error::status(
                Code::FailedPrecondition,
                "CHED_ALREADY_PRESENTED",
                format!("{subject} is covered by {}", goods.ched_reference),
            ));
        }
        let (mut ched, from, to) = self.ched_for(&mut tx, &reference, Transition::Link).await?;
        let presented = super::assess::presented_ched(&ched)
            .ok_or_else(|| error::internal("reading a CHED", "stored document incomplete"))?;
        // Origins are not part of an assessment record, so only type and commodity compare.
        let problems =
            assessment::presentation_problems(&presented, document, &goods.commodity_code, "");
        if let Some(problem) = problems.first() {
            return Err(error::status(
                Code::FailedPrecondition,
                &problem.code,
                problem.message.clone(),
            ));
        }
        let finding = Finding {
            code: "CHED_PRESENTED".into(),
            rule_id: "REG-2017-625-ART-56".into(),
            message: format!(
                "{reference} was presented for {subject}: the border control post decides on it"
            ),
            verdict: Verdict::Refer,
        };
        goods.ched_reference = reference.clone();
        goods.reasons.push(convert::reason(&finding, &subject));
        ched.status = convert::status_to_proto(to).into();
        ched.assessment_id = assessment.assessment_id.clone();
        ched.subject = subject;
        self.save_transition(&mut tx, &ched, from).await?;
        self.store
            .update_assessment(&mut tx, &assessment)
            .await
            .map_err(|e| error::internal("updating an assessment", e))?;
        tracing::info!(reference = %ched.reference, assessment_id = %assessment.assessment_id, "CHED presented");
        call.commit(
            self.store.db(),
            tx,
            pb::PresentChedResponse {
                ched: Some(ched),
                assessment: Some(assessment),
            },
        )
        .await
    }

    pub(super) async fn record_inspection_result(
        &self,
        request: pb::RecordInspectionResultRequest,
    ) -> Result<pb::RecordInspectionResultResponse, Status> {
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let reference = reference_field("reference", &request.reference, &mut violations);
        validate::required_text("inspector_id", &request.inspector_id, &mut violations);
        let outcome = validate::required_enum::<pb::InspectionOutcome>(
            "outcome",
            request.outcome,
            &mut violations,
        );
        let measure = pb::Measure::try_from(request.measure).ok();
        match (outcome, measure) {
            (_, None) => violations.add(
                "measure",
                format!("{} is not a known value", request.measure),
            ),
            (Some(pb::InspectionOutcome::NonCompliant), Some(pb::Measure::Unspecified)) => {
                violations.add(
                    "measure",
                    "is required when the consignment is non-compliant",
                );
            }
            (Some(pb::InspectionOutcome::Compliant), Some(measure))
                if measure != pb::Measure::Unspecified =>
            {
                violations.add(
                    "measure",
                    "must be unspecified when the consignment is compliant",
                );
            }
            _ => {}
        }
        convert::optional_text("notes", &request.notes, &mut violations);
        let reference = violations.into_result(reference)?.unwrap_or_default();
        let call = IdempotentCall::new(RECORD_INSPECTION_RESULT, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(saved),
            Start::Fresh(tx) => tx,
        };
        let compliant = outcome == Some(pb::InspectionOutcome::Compliant);
        let (mut ched, from, to) = self
            .ched_for(&mut tx, &reference, Transition::Decide)
            .await?;
        ched.status = convert::status_to_proto(to).into();
        let decision = pb::ChedDecision {
            outcome: request.outcome,
            measure: request.measure,
            checks_performed: request.checks_performed,
            inspector_id: request.inspector_id.trim().to_owned(),
            notes: request.notes.trim().to_owned(),
            decided_on: Some(validate::date_to_proto(super::today())),
        };
        ched.part_ii = Some(decision.clone());
        self.save_transition(&mut tx, &ched, from).await?;
        let part_i = ched.part_i.clone().unwrap_or_default();
        let species_group = self
            .rules
            .species
            .find(&part_i.species)
            .map(|s| s.group.as_str());
        let group = self
            .rules
            .regimes
            .resolve(
                &part_i.commodity_code,
                species_group,
                &part_i.origin_country,
            )
            .map(|r| r.commodity_group)
            .unwrap_or_default();
        self.store
            .insert_inspection_result(
                &mut tx,
                &ched.reference,
                &part_i.origin_country,
                &group,
                compliant,
            )
            .await
            .map_err(|e| error::internal("recording an inspection result", e))?;
        self.decide_assessment(&mut tx, &ched, &decision, compliant)
            .await?;
        tracing::info!(reference = %ched.reference, compliant, "CHED Part II decided");
        call.commit(
            self.store.db(),
            tx,
            pb::RecordInspectionResultResponse { ched: Some(ched) },
        )
        .await
    }

    /// The decision replaces the verdict of the consignment the document was presented with.
    async fn decide_assessment(
        &self,
        tx: &mut Tx,
        ched: &pb::Ched,
        decision: &pb::ChedDecision,
        compliant: bool,
    ) -> Result<(), Status> {
        if ched.assessment_id.is_empty() {
            return Ok(());
        }
        let Some(mut assessment) = self
            .store
            .get_assessment_for_update(tx, &ched.assessment_id)
            .await
            .map_err(|e| error::internal("reading an assessment", e))?
        else {
            return Ok(());
        };
        let measure = pb::Measure::try_from(decision.measure)
            .ok()
            .and_then(measure_text);
        let finding = assessment::decision_finding(compliant, measure, &ched.reference);
        for consignment in assessment
            .consignments
            .iter_mut()
            .filter(|c| c.subject == ched.subject)
        {
            consignment.verdict = convert::verdict_to_proto(finding.verdict).into();
            consignment
                .reasons
                .push(convert::reason(&finding, &consignment.subject));
            consignment.decision = Some(decision.clone());
        }
        assessment.verdict = assessment
            .consignments
            .iter()
            .map(|c| c.verdict)
            .max()
            .unwrap_or_else(|| convert::verdict_to_proto(Verdict::Clear).into());
        self.store
            .update_assessment(tx, &assessment)
            .await
            .map_err(|e| error::internal("updating an assessment", e))
    }

    pub(super) async fn record_follow_up(
        &self,
        request: pb::RecordFollowUpRequest,
    ) -> Result<pb::RecordFollowUpResponse, Status> {
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let reference = reference_field("reference", &request.reference, &mut violations);
        let description =
            validate::required_text("description", &request.description, &mut violations)
                .map(str::to_owned);
        let (reference, description) = violations
            .into_result(reference.zip(description))?
            .unwrap_or_default();
        let call = IdempotentCall::new(RECORD_FOLLOW_UP, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(saved),
            Start::Fresh(tx) => tx,
        };
        let (mut ched, from, to) = self
            .ched_for(&mut tx, &reference, Transition::FollowUp)
            .await?;
        ched.status = convert::status_to_proto(to).into();
        ched.part_iii = Some(pb::ChedFollowUp {
            description,
            recorded_on: Some(validate::date_to_proto(super::today())),
        });
        self.save_transition(&mut tx, &ched, from).await?;
        call.commit(
            self.store.db(),
            tx,
            pb::RecordFollowUpResponse { ched: Some(ched) },
        )
        .await
    }

    pub(super) async fn cancel_ched(
        &self,
        request: pb::CancelChedRequest,
    ) -> Result<pb::CancelChedResponse, Status> {
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let reference = reference_field("reference", &request.reference, &mut violations);
        let reason =
            validate::required_text("reason", &request.reason, &mut violations).map(str::to_owned);
        let (reference, reason) = violations
            .into_result(reference.zip(reason))?
            .unwrap_or_default();
        let call = IdempotentCall::new(CANCEL_CHED, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(saved),
            Start::Fresh(tx) => tx,
        };
        let (mut ched, from, to) = self
            .ched_for(&mut tx, &reference, Transition::Cancel)
            .await?;
        ched.status = convert::status_to_proto(to).into();
        ched.cancellation_reason = reason;
        self.save_transition(&mut tx, &ched, from).await?;
        call.commit(
            self.store.db(),
            tx,
            pb::CancelChedResponse { ched: Some(ched) },
        )
        .await
    }
}
