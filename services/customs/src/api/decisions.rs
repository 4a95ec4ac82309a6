//! InvalidateDeclaration and RecordExamination: decisions on a lodged declaration. The rules
//! are `domain::examination`; this reads the requests, holds the declaration while it decides,
//! and saves it in the call's transaction.

use bordermesh_kit::{
    error::{self, FieldViolations},
    idempotency::{IdempotentCall, Start},
    validate,
};
use bordermesh_proto::{common::v1 as common, customs::v1 as pb};
use rust_decimal::Decimal;
use tonic::{Code, Status};
use uuid::Uuid;

use super::{CustomsApi, lane_from_proto, verdict_to_proto};
use crate::domain::{
    Verdict,
    examination::{self, DeclarationState, ExaminationResult},
};

pub(super) const INVALIDATE_DECLARATION: &str = "customs.InvalidateDeclaration";
pub(super) const RECORD_EXAMINATION: &str = "customs.RecordExamination";

/// Longest officer id accepted.
const MAX_OFFICER_ID_BYTES: usize = 64;

fn declaration_id(value: &str, violations: &mut FieldViolations) -> Option<Uuid> {
    match Uuid::parse_str(value) {
        Ok(id) => Some(id),
        Err(_) => {
            violations.add("declaration_id", "must be a UUID");
            None
        }
    }
}

fn verdict_from_proto(value: i32) -> Verdict {
    match common::Verdict::try_from(value) {
        Ok(common::Verdict::ClearWithConditions) => Verdict::ClearWithConditions,
        Ok(common::Verdict::Refer) => Verdict::Refer,
        Ok(common::Verdict::Refuse) => Verdict::Refuse,
        _ => Verdict::Clear,
    }
}

fn owes(totals: &[common::Money]) -> bool {
    totals.iter().any(|money| {
        money
            .amount
            .parse::<Decimal>()
            .is_ok_and(|amount| !amount.is_zero())
    })
}

fn state(declaration: &pb::Declaration) -> DeclarationState {
    DeclarationState {
        lane: lane_from_proto(declaration.lane()),
        verdict: verdict_from_proto(declaration.verdict),
        invalidated: declaration.status() == pb::DeclarationStatus::Invalidated,
        examination: declaration.examination.as_ref().and_then(|examination| {
            match examination.result() {
                pb::ExaminationResult::Conform => Some(ExaminationResult::Conform),
                pb::ExaminationResult::NotConform => Some(ExaminationResult::NotConform),
                pb::ExaminationResult::Unspecified => None,
            }
        }),
        duties_due: owes(&declaration.total_duty)
            || owes(&declaration.total_vat)
            || owes(&declaration.total_excise),
        licence_required: declaration
            .referrals
            .iter()
            .any(|referral| referral.kind() == pb::ReferralKind::Licence),
    }
}

fn reason(code: &str, rule_id: &str, message: String) -> common::Reason {
    common::Reason {
        agency: common::Agency::Customs.into(),
        code: code.to_owned(),
        rule_id: rule_id.to_owned(),
        message,
        subject: "items".into(),
        refusal_code: String::new(),
    }
}

fn now() -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now())
}

impl CustomsApi {
    /// Holds the declaration in `tx` for a decision: NOT_FOUND when there is none.
    async fn held_declaration(
        &self,
        tx: &mut bordermesh_kit::db::Tx,
        id: Uuid,
    ) -> Result<pb::Declaration, Status> {
        error::found(
            self.store.lock_declaration(tx, id).await,
            "Declaration",
            &id.to_string(),
            "reading a declaration",
        )
    }

    pub(super) async fn invalidate(
        &self,
        request: pb::InvalidateDeclarationRequest,
    ) -> Result<pb::InvalidateDeclarationResponse, Status> {
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let id = declaration_id(&request.declaration_id, &mut violations);
        let reason_text =
            validate::required_text("reason", &request.reason, &mut violations).map(str::to_owned);
        let (id, reason_text) = violations
            .into_result(id.zip(reason_text))?
            .ok_or_else(|| error::internal("reading an invalidation", "no value, no violation"))?;
        let call = IdempotentCall::new(INVALIDATE_DECLARATION, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(saved),
            Start::Fresh(tx) => tx,
        };
        let mut declaration = self.held_declaration(&mut tx, id).await?;
        let invalidates = examination::invalidates(&state(&declaration));
        if invalidates {
            declaration.status = pb::DeclarationStatus::Invalidated.into();
            declaration.invalidate_time = Some(now());
            // UCC Art. 124(1)(d): the customs debt is extinguished; items keep what was computed.
            declaration.total_duty.clear();
            declaration.total_vat.clear();
            declaration.total_excise.clear();
            declaration.reasons.push(reason(
                "DECLARATION_INVALIDATED",
                "UCC-ART-174",
                format!("the declaration is invalidated, no duties are owed: {reason_text}"),
            ));
            declaration.invalidation_reason = reason_text;
            self.store
                .update_declaration(&mut tx, &declaration)
                .await
                .map_err(|e| error::internal("invalidating a declaration", e))?;
        }
        tracing::info!(declaration_id = %id, changed = invalidates, "declaration invalidated");
        let response = pb::InvalidateDeclarationResponse {
            declaration: Some(declaration),
        };
        call.commit(self.store.db(), tx, response).await
    }

    pub(super) async fn examine(
        &self,
        request: pb::RecordExaminationRequest,
    ) -> Result<pb::RecordExaminationResponse, Status> {
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let id = declaration_id(&request.declaration_id, &mut violations);
        let officer = validate::required_text("officer_id", &request.officer_id, &mut violations)
            .map(str::to_owned);
        if officer
            .as_ref()
            .is_some_and(|officer| officer.len() > MAX_OFFICER_ID_BYTES)
        {
            violations.add(
                "officer_id",
                format!("must be at most {MAX_OFFICER_ID_BYTES} bytes"),
            );
        }
        let result = validate::required_enum::<pb::ExaminationResult>(
            "result",
            request.result,
            &mut violations,
        )
        .and_then(|result| match result {
            pb::ExaminationResult::Conform => Some(ExaminationResult::Conform),
            pb::ExaminationResult::NotConform => Some(ExaminationResult::NotConform),
            pb::ExaminationResult::Unspecified => None,
        });
        let findings = if result == Some(ExaminationResult::NotConform) {
            validate::required_text("findings", &request.findings, &mut violations)
                .unwrap_or_default()
                .to_owned()
        } else {
            if request.findings.len() > validate::MAX_TEXT_FIELD {
                violations.add(
                    "findings",
                    format!("must be at most {} bytes", validate::MAX_TEXT_FIELD),
                );
            }
            request.findings.trim().to_owned()
        };
        let ((id, officer), result) = violations
            .into_result(id.zip(officer).zip(result))?
            .ok_or_else(|| error::internal("reading an examination", "no value, no violation"))?;
        let call = IdempotentCall::new(RECORD_EXAMINATION, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(saved),
            Start::Fresh(tx) => tx,
        };
        let mut declaration = self.held_declaration(&mut tx, id).await?;
        let verdict = examination::examine(&state(&declaration), result).map_err(|rejection| {
            error::status(
                Code::FailedPrecondition,
                rejection.code(),
                rejection.message(),
            )
        })?;
        if let Some(verdict) = verdict {
            declaration.verdict = verdict_to_proto(verdict).into();
            declaration.examination = Some(pb::Examination {
                officer_id: officer.clone(),
                result: match result {
                    ExaminationResult::Conform => pb::ExaminationResult::Conform,
                    ExaminationResult::NotConform => pb::ExaminationResult::NotConform,
                }
                .into(),
                findings: findings.clone(),
                examine_time: Some(now()),
            });
            let noted = if findings.is_empty() {
                String::new()
            } else {
                format!(": {findings}")
            };
            declaration.reasons.push(match result {
                ExaminationResult::Conform => reason(
                    "EXAMINATION_CONFORM",
                    "UCC-ART-189",
                    format!(
                        "officer {officer} examined the goods and found them as declared{noted}"
                    ),
                ),
                ExaminationResult::NotConform => reason(
                    "EXAMINATION_NOT_CONFORM",
                    "UCC-ART-198",
                    format!(
                        "officer {officer} examined the goods and found them not as declared{noted}"
                    ),
                ),
            });
            self.store
                .update_declaration(&mut tx, &declaration)
                .await
                .map_err(|e| error::internal("recording an examination", e))?;
        }
        tracing::info!(declaration_id = %id, ?result, changed = verdict.is_some(), "goods examined");
        let response = pb::RecordExaminationResponse {
            declaration: Some(declaration),
        };
        call.commit(self.store.db(), tx, response).await
    }
}
