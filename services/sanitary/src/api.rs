//! The tonic SanitaryService: proto in, validated domain values, domain rules, proto out.

use bordermesh_kit::{
    error::{self, FieldViolations},
    idempotency::IdempotentCall,
    validate,
};
use bordermesh_proto::{
    common::v1 as common,
    sanitary::v1::{self as pb, sanitary_service_server::SanitaryService},
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{
        assessment::{self, ConsignmentDecision, Subject, Verdict},
        regime::{DocumentType, Regimes},
    },
    store::Store,
};

const ASSESS_CONSIGNMENTS: &str = "sanitary.AssessConsignments";

pub struct SanitaryApi {
    store: Store,
    regimes: Regimes,
}

impl SanitaryApi {
    pub fn new(store: Store, regimes: Regimes) -> Self {
        Self { store, regimes }
    }
}

/// A commodity code of 6 to 10 digits (HS subheading and national subdivisions).
fn commodity_code(field: &str, code: &str, violations: &mut FieldViolations) -> Option<String> {
    let valid = (6..=10).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        violations.add(field, "must be an HS code of 6 to 10 digits");
    }
    valid.then(|| code.to_owned())
}

struct Command {
    crossing_point: String,
    subjects: Vec<Subject>,
}

impl TryFrom<&pb::AssessConsignmentsRequest> for Command {
    type Error = Status;

    fn try_from(request: &pb::AssessConsignmentsRequest) -> Result<Self, Status> {
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let crossing_point = match &request.crossing_point {
            Some(point) => {
                validate::country("crossing_point.country", &point.country, &mut violations);
                validate::required_text("crossing_point.code", &point.code, &mut violations)
                    .map(str::to_owned)
            }
            None => {
                violations.add("crossing_point", "is required");
                None
            }
        };
        validate::required_enum::<common::Direction>(
            "direction",
            request.direction,
            &mut violations,
        );
        if request.consignments.is_empty() && request.referrals.is_empty() {
            violations.add(
                "consignments",
                "at least one consignment or referral is required",
            );
        }
        let mut subjects = Vec::new();
        for (index, consignment) in request.consignments.iter().enumerate() {
            let at = |field: &str| format!("consignments[{index}].{field}");
            let code = commodity_code(
                &at("commodity_code"),
                &consignment.commodity_code,
                &mut violations,
            );
            validate::country(
                &at("origin_country"),
                &consignment.origin_country,
                &mut violations,
            );
            if let Some(quantity) = &consignment.quantity {
                validate::positive_decimal(&at("quantity.value"), &quantity.value, &mut violations);
            }
            if !consignment.net_mass_kg.is_empty() {
                validate::positive_decimal(
                    &at("net_mass_kg"),
                    &consignment.net_mass_kg,
                    &mut violations,
                );
            }
            if let Some(code) = code {
                subjects.push(Subject {
                    subject: format!("consignments[{index}]"),
                    commodity_code: code,
                    pre_notified: !consignment.ched_reference.trim().is_empty(),
                });
            }
        }
        for (index, referral) in request.referrals.iter().enumerate() {
            let at = |field: &str| format!("referrals[{index}].{field}");
            let code = commodity_code(
                &at("commodity_code"),
                &referral.commodity_code,
                &mut violations,
            );
            validate::required_text(&at("subject"), &referral.subject, &mut violations);
            // Goods the operator also declared as a consignment are assessed once, as that.
            let declared = request
                .consignments
                .iter()
                .any(|c| c.commodity_code == referral.commodity_code);
            if let Some(code) = code.filter(|_| !declared) {
                subjects.push(Subject {
                    subject: referral.subject.clone(),
                    commodity_code: code,
                    pre_notified: false,
                });
            }
        }
        let crossing_point = violations.into_result(crossing_point)?.unwrap_or_default();
        Ok(Self {
            crossing_point,
            subjects,
        })
    }
}

fn verdict_to_proto(verdict: Verdict) -> common::Verdict {
    match verdict {
        Verdict::Clear => common::Verdict::Clear,
        Verdict::ClearWithConditions => common::Verdict::ClearWithConditions,
        Verdict::Refer => common::Verdict::Refer,
    }
}

fn document_to_proto(document: Option<DocumentType>) -> pb::DocumentType {
    match document {
        None => pb::DocumentType::None,
        Some(DocumentType::ChedA) => pb::DocumentType::ChedA,
        Some(DocumentType::ChedP) => pb::DocumentType::ChedP,
        Some(DocumentType::ChedPp) => pb::DocumentType::ChedPp,
        Some(DocumentType::ChedD) => pb::DocumentType::ChedD,
    }
}

fn decision_to_proto(decision: &ConsignmentDecision) -> pb::ConsignmentAssessment {
    pb::ConsignmentAssessment {
        subject: decision.subject.clone(),
        commodity_code: decision.commodity_code.clone(),
        document_type: document_to_proto(decision.document_type).into(),
        checks: Some(pb::Checks {
            documentary: decision.checks.documentary,
            identity: decision.checks.identity,
            physical: decision.checks.physical,
        }),
        verdict: verdict_to_proto(decision.verdict).into(),
        reasons: decision
            .findings
            .iter()
            .map(|finding| common::Reason {
                agency: common::Agency::Sanitary.into(),
                code: finding.code.clone(),
                rule_id: finding.rule_id.to_owned(),
                message: finding.message.clone(),
                subject: decision.subject.clone(),
                refusal_code: String::new(),
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl SanitaryService for SanitaryApi {
    async fn assess_consignments(
        &self,
        request: Request<pb::AssessConsignmentsRequest>,
    ) -> Result<Response<pb::AssessConsignmentsResponse>, Status> {
        let request = request.into_inner();
        let command = Command::try_from(&request)?;
        let call = IdempotentCall::new(ASSESS_CONSIGNMENTS, &request.request_id, &request);
        if let Some(saved) = call.replay(self.store.pool()).await? {
            return Ok(Response::new(saved));
        }
        // The request id seeds the check selection: the same request replays the same draw.
        let decisions = assessment::assess(&command.subjects, &self.regimes, &request.request_id);
        let verdict = decisions
            .iter()
            .map(|d| d.verdict)
            .max()
            .unwrap_or(Verdict::Clear);
        let record = pb::Assessment {
            assessment_id: Uuid::new_v4().to_string(),
            verdict: verdict_to_proto(verdict).into(),
            consignments: decisions.iter().map(decision_to_proto).collect(),
        };
        let mut tx = self
            .store
            .pool()
            .begin()
            .await
            .map_err(|e| error::internal("starting a transaction", e))?;
        self.store
            .insert_assessment(&mut tx, &command.crossing_point, &record)
            .await
            .map_err(|e| error::internal("recording an assessment", e))?;
        tracing::info!(assessment_id = %record.assessment_id, subjects = decisions.len(), seed = %request.request_id, "consignments assessed");
        let response = pb::AssessConsignmentsResponse {
            assessment: Some(record),
        };
        Ok(Response::new(
            call.commit(self.store.pool(), tx, response).await?,
        ))
    }

    async fn get_assessment(
        &self,
        request: Request<pb::GetAssessmentRequest>,
    ) -> Result<Response<pb::GetAssessmentResponse>, Status> {
        let id = validate::record_id("assessment_id", &request.get_ref().assessment_id)?;
        match self.store.get_assessment(id).await {
            Ok(Some(assessment)) => Ok(Response::new(pb::GetAssessmentResponse {
                assessment: Some(assessment),
            })),
            Ok(None) => Err(error::not_found("Assessment", &id.to_string())),
            Err(e) => Err(error::internal("reading an assessment", e)),
        }
    }
}
