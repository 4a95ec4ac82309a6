//! RefuseEntry and RecordInterviewOutcome: decisions taken on a recorded check after the
//! first line. The rules are `domain::second_line`; this reads the requests, holds the check
//! while it decides, and writes the check and its EES record in one transaction.

use bordermesh_kit::{
    db::Tx,
    error::{self, FieldViolations},
    idempotency::{IdempotentCall, Start},
    validate,
};
use bordermesh_proto::{common::v1 as common, identity::v1 as pb};
use tonic::{Code, Status};
use uuid::Uuid;

use super::{IdentityApi, verdict_to_proto};
use crate::{
    domain::{
        check::{Category, Direction, Verdict},
        ees::{self, CrossingKind},
        second_line::{self, Change, CheckState, EesChange, Outcome},
        sltd::DocumentKey,
    },
    registers::naive_date,
    store::{CrossingRecord, Store, StoredCheck},
};

pub(super) const REFUSE_ENTRY: &str = "identity.RefuseEntry";
pub(super) const RECORD_INTERVIEW_OUTCOME: &str = "identity.RecordInterviewOutcome";
pub(super) const WITHDRAW_EXIT: &str = "identity.WithdrawExit";

/// Longest officer id accepted.
const MAX_OFFICER_ID_BYTES: usize = 64;

/// A refusal as read from a request: its Annex V Part B codes, each once, and its text.
struct Refusal {
    codes: Vec<String>,
    text: String,
}

fn refusal_codes(codes: &[String], violations: &mut FieldViolations) -> Vec<String> {
    let mut read: Vec<String> = Vec::with_capacity(codes.len());
    for (index, code) in codes.iter().enumerate() {
        let field = validate::indexed("refusal_codes", index);
        if !second_line::is_refusal_code(code) {
            violations.add(
                field,
                "must be a refusal code of SBC Annex V Part B, A to I",
            );
        } else if read.contains(code) {
            violations.add(field, "is given twice");
        } else {
            read.push(code.clone());
        }
    }
    read
}

fn text(field: &str, value: &str, required: bool, violations: &mut FieldViolations) -> String {
    if required {
        return validate::required_text(field, value, violations)
            .unwrap_or_default()
            .to_owned();
    }
    if value.len() > validate::MAX_TEXT_FIELD {
        violations.add(
            field,
            format!("must be at most {} bytes", validate::MAX_TEXT_FIELD),
        );
    }
    value.trim().to_owned()
}

fn check_id(value: &str, violations: &mut FieldViolations) -> Option<Uuid> {
    match Uuid::parse_str(value) {
        Ok(id) => Some(id),
        Err(_) => {
            violations.add("check_id", "must be a UUID");
            None
        }
    }
}

fn read_refuse_entry(request: &pb::RefuseEntryRequest) -> Result<(Uuid, Refusal), Status> {
    let mut violations = FieldViolations::new();
    validate::request_id(&request.request_id, &mut violations);
    let id = check_id(&request.check_id, &mut violations);
    if request.refusal_codes.is_empty() {
        violations.add("refusal_codes", "at least one refusal code is required");
    }
    let codes = refusal_codes(&request.refusal_codes, &mut violations);
    let text = text("text", &request.text, true, &mut violations);
    let id = violations.into_result(id)?;
    let id = id.ok_or_else(|| error::internal("reading a refusal", "no id and no violation"))?;
    Ok((id, Refusal { codes, text }))
}

fn read_withdraw_exit(request: &pb::WithdrawExitRequest) -> Result<(Uuid, String), Status> {
    let mut violations = FieldViolations::new();
    validate::request_id(&request.request_id, &mut violations);
    let id = check_id(&request.check_id, &mut violations);
    let text = text("text", &request.text, true, &mut violations);
    let id = violations.into_result(id)?;
    let id = id.ok_or_else(|| error::internal("reading a withdrawal", "no id and no violation"))?;
    Ok((id, text))
}

struct Interview {
    check_id: Uuid,
    officer_id: String,
    outcome: Outcome,
    refusal: Refusal,
}

fn read_interview(request: &pb::RecordInterviewOutcomeRequest) -> Result<Interview, Status> {
    let mut violations = FieldViolations::new();
    validate::request_id(&request.request_id, &mut violations);
    let id = check_id(&request.check_id, &mut violations);
    let officer = validate::required_text("officer_id", &request.officer_id, &mut violations);
    if officer.is_some_and(|officer| officer.len() > MAX_OFFICER_ID_BYTES) {
        violations.add(
            "officer_id",
            format!("must be at most {MAX_OFFICER_ID_BYTES} bytes"),
        );
    }
    let outcome = validate::required_enum::<pb::InterviewOutcome>(
        "outcome",
        request.outcome,
        &mut violations,
    )
    .and_then(|outcome| match outcome {
        pb::InterviewOutcome::Admitted => Some(Outcome::Admitted),
        pb::InterviewOutcome::Refused => Some(Outcome::Refused),
        pb::InterviewOutcome::Unspecified => None,
    });
    let refused = outcome == Some(Outcome::Refused);
    if refused && request.refusal_codes.is_empty() {
        violations.add(
            "refusal_codes",
            "at least one refusal code is required when entry is refused",
        );
    }
    if outcome == Some(Outcome::Admitted) && !request.refusal_codes.is_empty() {
        violations.add(
            "refusal_codes",
            "must be empty when the traveller is admitted",
        );
    }
    let codes = refusal_codes(&request.refusal_codes, &mut violations);
    let text = text("text", &request.text, refused, &mut violations);
    let read = id.zip(outcome).zip(officer.map(str::to_owned));
    let ((check_id, outcome), officer_id) = violations
        .into_result(read)?
        .ok_or_else(|| error::internal("reading an interview", "no value and no violation"))?;
    Ok(Interview {
        check_id,
        officer_id,
        outcome,
        refusal: Refusal { codes, text },
    })
}

fn verdict_from_proto(value: i32) -> Option<Verdict> {
    match common::Verdict::try_from(value).ok()? {
        common::Verdict::Clear | common::Verdict::ClearWithConditions => Some(Verdict::Clear),
        common::Verdict::Refer => Some(Verdict::Refer),
        common::Verdict::Refuse => Some(Verdict::Refuse),
        common::Verdict::Unspecified => None,
    }
}

fn outcome_from_proto(decision: &pb::SecondLineDecision) -> Option<Outcome> {
    match decision.outcome() {
        pb::InterviewOutcome::Admitted => Some(Outcome::Admitted),
        pb::InterviewOutcome::Refused => Some(Outcome::Refused),
        pb::InterviewOutcome::Unspecified => None,
    }
}

fn traveller_key(check: &pb::TravellerCheck) -> Option<String> {
    let document = check.document.as_ref()?;
    let key = DocumentKey::new(
        &document.issuing_state,
        &document.document_code,
        &document.document_number,
    );
    Some(format!("{}/{}", key.issuing_state, key.document_number))
}

fn rejected(rejection: second_line::Rejection) -> Status {
    error::status(
        Code::FailedPrecondition,
        rejection.code(),
        rejection.message(),
    )
}

fn refusal_reasons(refusal: &Refusal, rule_id: &str, by: &str) -> Vec<common::Reason> {
    refusal
        .codes
        .iter()
        .map(|code| common::Reason {
            agency: common::Agency::BorderPolice.into(),
            code: "ENTRY_REFUSED".into(),
            rule_id: rule_id.to_owned(),
            message: format!(
                "entry refused by {by} (Annex V Part B, {code}): {}",
                refusal.text
            ),
            subject: crate::domain::check::SUBJECT_TRAVELLER.into(),
            refusal_code: code.clone(),
        })
        .collect()
}

fn now() -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now())
}

impl IdentityApi {
    /// Holds the check in `tx` and reads what a decision needs about it.
    async fn held_check(
        &self,
        tx: &mut Tx,
        id: Uuid,
    ) -> Result<(StoredCheck, CheckState, Option<crate::store::CheckCrossing>), Status> {
        let id_text = id.to_string();
        let locked = self
            .store
            .lock_check(tx, &id_text)
            .await
            .map_err(|e| error::internal("locking a traveller check", e))?;
        if !locked {
            return Err(error::not_found("TravellerCheck", &id_text));
        }
        let stored = error::found(
            self.store.stored_check(tx, &id_text).await,
            "TravellerCheck",
            &id_text,
            "reading a traveller check",
        )?;
        let crossing = self
            .store
            .check_crossing(tx, &id_text)
            .await
            .map_err(|e| error::internal("reading a check's EES record", e))?;
        let category = match stored.check.category() {
            pb::TravellerCategory::EuEeaCh => Category::FreeMovement,
            _ => Category::ThirdCountry,
        };
        let state = CheckState {
            category,
            direction: if stored.direction == "EXIT" {
                Direction::Exit
            } else {
                Direction::Entry
            },
            first_line: common::Verdict::from_str_name(&stored.first_line_verdict)
                .and_then(|v| verdict_from_proto(v.into()))
                .unwrap_or(Verdict::Clear),
            current: verdict_from_proto(stored.check.verdict).unwrap_or(Verdict::Clear),
            second_line: stored
                .check
                .second_line
                .as_ref()
                .and_then(outcome_from_proto),
            ees_record: crossing.as_ref().map(|c| c.kind),
        };
        Ok((stored, state, crossing))
    }

    /// Applies a decision's change to the check and the EES file, in `tx`.
    async fn apply(
        &self,
        tx: &mut Tx,
        stored: &StoredCheck,
        crossing: Option<&crate::store::CheckCrossing>,
        check: &mut pb::TravellerCheck,
        change: Change,
        refusal_codes: &str,
    ) -> Result<(), Status> {
        let (verdict, ees_change) = match change {
            Change::Unchanged => return Ok(()),
            Change::Refuse { ees } => (Verdict::Refuse, ees),
            Change::Admit { ees } => (Verdict::Clear, ees),
        };
        check.verdict = verdict_to_proto(verdict).into();
        let key = traveller_key(check);
        match (ees_change, key) {
            (EesChange::None, _) => {}
            (_, None) => {
                return Err(error::internal(
                    "recording an EES decision",
                    "the stored check has no document",
                ));
            }
            (EesChange::EntryBecomesRefusal, Some(key)) => {
                let Some(entry) = crossing else {
                    return Err(error::internal(
                        "refusing entry",
                        "the entry record vanished",
                    ));
                };
                let keep_until =
                    ees::keep_until(CrossingKind::Refusal, stored.crossing_date, false, None);
                self.store
                    .entry_becomes_refusal(tx, &entry.record_id, &key, refusal_codes, keep_until)
                    .await
                    .map_err(|e| error::internal("turning an entry into a refusal", e))?;
                // The refused entry did not happen: the visa gets its entry back.
                if let Some(number) = &entry.visa_number {
                    self.count_visa_entry(tx, number, false).await?;
                }
            }
            (EesChange::RecordRefusal | EesChange::RecordEntry, Some(key)) => {
                let kind = if ees_change == EesChange::RecordEntry {
                    CrossingKind::Entry
                } else {
                    CrossingKind::Refusal
                };
                let latest_exit = check
                    .stay
                    .as_ref()
                    .and_then(|stay| naive_date(stay.latest_exit.as_ref()));
                let mut counted_visa = None;
                if kind == CrossingKind::Entry
                    && let Some(number) = &stored.visa_number
                    && self.count_visa_entry(tx, number, true).await?
                {
                    counted_visa = Some(number.as_str());
                }
                let record = CrossingRecord {
                    traveller_key: &key,
                    kind,
                    crossed_on: stored.crossing_date,
                    crossing_point: &stored.crossing_point,
                    nationality: &stored.nationality,
                    refusal_codes: if kind == CrossingKind::Refusal {
                        refusal_codes
                    } else {
                        ""
                    },
                    keep_until: ees::keep_until(kind, stored.crossing_date, false, latest_exit),
                    check_id: Some(&check.check_id),
                    visa_number: counted_visa,
                };
                self.store
                    .record_crossing(tx, &record)
                    .await
                    .map_err(|e| error::internal("recording an EES crossing", e))?;
            }
        }
        self.store
            .update_check(tx, verdict_to_proto(verdict).as_str_name(), check)
            .await
            .map_err(|e| error::internal("updating a traveller check", e))
    }

    /// Counts an entry on a visa (or gives one back); false when the visa is not recorded.
    async fn count_visa_entry(
        &self,
        tx: &mut Tx,
        number: &str,
        entered: bool,
    ) -> Result<bool, Status> {
        let Some(mut visa) = self
            .store
            .find_visa_in(tx, number)
            .await
            .map_err(|e| error::internal("reading a visa", e))?
        else {
            return Ok(false);
        };
        visa.entries_used = if entered {
            visa.entries_used.saturating_add(1)
        } else {
            visa.entries_used.saturating_sub(1)
        };
        tx.execute(&Store::visa_update(&visa))
            .await
            .map_err(|e| error::internal("counting a visa entry", e))?;
        Ok(true)
    }

    pub(super) async fn refuse_entry(
        &self,
        request: pb::RefuseEntryRequest,
    ) -> Result<pb::RefuseEntryResponse, Status> {
        let (id, refusal) = read_refuse_entry(&request)?;
        let call = IdempotentCall::new(REFUSE_ENTRY, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(saved),
            Start::Fresh(tx) => tx,
        };
        let (stored, state, crossing) = self.held_check(&mut tx, id).await?;
        let change = second_line::refuse_entry(&state).map_err(rejected)?;
        let mut check = stored.check.clone();
        if change != Change::Unchanged {
            check
                .reasons
                .extend(refusal_reasons(&refusal, "SBC-ART-14", "the border"));
        }
        self.apply(
            &mut tx,
            &stored,
            crossing.as_ref(),
            &mut check,
            change,
            &refusal.codes.concat(),
        )
        .await?;
        tracing::info!(check_id = %id, changed = change != Change::Unchanged, "entry refused");
        let response = pb::RefuseEntryResponse { check: Some(check) };
        call.commit(self.store.db(), tx, response).await
    }

    pub(super) async fn withdraw_exit(
        &self,
        request: pb::WithdrawExitRequest,
    ) -> Result<pb::WithdrawExitResponse, Status> {
        let (id, text) = read_withdraw_exit(&request)?;
        let call = IdempotentCall::new(WITHDRAW_EXIT, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(saved),
            Start::Fresh(tx) => tx,
        };
        let (stored, state, crossing) = self.held_check(&mut tx, id).await?;
        let withdraws = second_line::withdraw_exit(&state).map_err(rejected)?;
        let mut check = stored.check.clone();
        if withdraws {
            let exit = crossing.ok_or_else(|| {
                error::internal("withdrawing an exit", "the exit record vanished")
            })?;
            self.store
                .erase_exit(&mut tx, &exit.record_id)
                .await
                .map_err(|e| error::internal("erasing an exit record", e))?;
            check.reasons.push(common::Reason {
                agency: common::Agency::BorderPolice.into(),
                code: "EXIT_WITHDRAWN".into(),
                rule_id: "EES-ART-35".into(),
                message: format!("exit withdrawn, the traveller did not leave: {text}"),
                subject: crate::domain::check::SUBJECT_TRAVELLER.into(),
                refusal_code: String::new(),
            });
            self.store
                .update_check(&mut tx, check.verdict().as_str_name(), &check)
                .await
                .map_err(|e| error::internal("updating a traveller check", e))?;
        }
        tracing::info!(check_id = %id, changed = withdraws, "exit withdrawn");
        let response = pb::WithdrawExitResponse { check: Some(check) };
        call.commit(self.store.db(), tx, response).await
    }

    pub(super) async fn record_interview_outcome(
        &self,
        request: pb::RecordInterviewOutcomeRequest,
    ) -> Result<pb::RecordInterviewOutcomeResponse, Status> {
        let interview = read_interview(&request)?;
        let call = IdempotentCall::new(RECORD_INTERVIEW_OUTCOME, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(saved),
            Start::Fresh(tx) => tx,
        };
        let (stored, state, crossing) = self.held_check(&mut tx, interview.check_id).await?;
        let change = second_line::interview(&state, interview.outcome).map_err(rejected)?;
        let mut check = stored.check.clone();
        let already_refused = state.current == Verdict::Refuse;
        if change != Change::Unchanged {
            check.second_line = Some(pb::SecondLineDecision {
                officer_id: interview.officer_id.clone(),
                outcome: match interview.outcome {
                    Outcome::Admitted => pb::InterviewOutcome::Admitted,
                    Outcome::Refused => pb::InterviewOutcome::Refused,
                }
                .into(),
                decide_time: Some(now()),
                refusal_codes: interview.refusal.codes.clone(),
                text: interview.refusal.text.clone(),
            });
            match interview.outcome {
                Outcome::Admitted => check.reasons.push(common::Reason {
                    agency: common::Agency::BorderPolice.into(),
                    code: "ADMITTED_BY_SECOND_LINE".into(),
                    rule_id: "SBC-ART-8-5".into(),
                    message: format!(
                        "admitted by the second line (officer {}){}",
                        interview.officer_id,
                        if interview.refusal.text.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", interview.refusal.text)
                        }
                    ),
                    subject: crate::domain::check::SUBJECT_TRAVELLER.into(),
                    refusal_code: String::new(),
                }),
                // A refusal that compensation already recorded keeps its reasons and record.
                Outcome::Refused if !already_refused => check.reasons.extend(refusal_reasons(
                    &interview.refusal,
                    "SBC-ART-14",
                    &format!("the second line (officer {})", interview.officer_id),
                )),
                Outcome::Refused => {}
            }
            self.apply(
                &mut tx,
                &stored,
                crossing.as_ref(),
                &mut check,
                change,
                &interview.refusal.codes.concat(),
            )
            .await?;
        }
        tracing::info!(
            check_id = %interview.check_id,
            outcome = ?interview.outcome,
            changed = change != Change::Unchanged,
            "second line decided"
        );
        let response = pb::RecordInterviewOutcomeResponse { check: Some(check) };
        call.commit(self.store.db(), tx, response).await
    }
}
