//! Compensation: undoing what the agencies recorded for a crossing that was refused or
//! abandoned. The compensating steps' intents are written in the same transaction as the state
//! that calls for them, so they survive a crash; each step carries a request id derived from the
//! crossing and the step, so a retry has its effect once; the recovery loop retries the open ones
//! until their agency answers.

use std::collections::HashMap;

use bordermesh_kit::{error, storage::encode_record};
use bordermesh_proto::{
    crossing::v1 as pb, customs::v1 as customs, identity::v1 as identity, sanitary::v1 as sanitary,
};
use futures::future::join_all;
use tonic::{Code, Status};
use uuid::Uuid;

use super::{Saga, encode_status, logged_answers, step_id};
use crate::{
    agencies::Deadline,
    domain::compensation::{self, Cause, Compensation},
    store::Write,
};

/// Whether an agency's error may pass if tried again later; any other error is its final word
/// on a compensation, which is then recorded as done, with the error.
fn worth_retrying(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Internal
            | Code::Unknown
    )
}

impl Saga {
    /// The compensations a crossing in this state calls for, from the answers in its saga log.
    pub(super) fn compensation_plan(
        crossing: &pb::Crossing,
        saved: &HashMap<String, String>,
    ) -> Result<Vec<Compensation>, Status> {
        let cause = match (crossing.status(), crossing.decision.as_ref()) {
            (pb::CrossingStatus::Abandoned, _) => Cause::Abandoned,
            (pb::CrossingStatus::Rejected, _) => Cause::Rejected,
            (pb::CrossingStatus::Decided, Some(decision))
                if decision.outcome() == pb::Outcome::Refused =>
            {
                Cause::Refused(decision)
            }
            _ => return Ok(Vec::new()),
        };
        let submission = crossing.submission.clone().unwrap_or_default();
        let answers = logged_answers(saved, submission.travellers.len())
            .map_err(|e| error::internal("decoding the saga log", e))?;
        Ok(compensation::plan(
            &crossing.crossing_id,
            submission.direction(),
            cause,
            &answers.checks,
            answers.declaration.as_ref(),
            answers.assessment.as_ref(),
        ))
    }

    /// The intents of the compensations a crossing in this state calls for, to be written with
    /// that state.
    pub(super) fn compensation_intents(
        crossing: &pb::Crossing,
        saved: &HashMap<String, String>,
    ) -> Result<Vec<Write>, Status> {
        Ok(Self::compensation_plan(crossing, saved)?
            .iter()
            .filter(|action| !saved.contains_key(&action.step()))
            .map(|action| Write::Intent {
                crossing_id: crossing.crossing_id.clone(),
                step: action.step(),
            })
            .collect())
    }

    /// Runs the compensations of a crossing that are not done yet, in parallel, and records
    /// each answer. An agency that cannot be reached leaves its intent open for the recovery
    /// loop.
    pub async fn compensate(
        &self,
        crossing: &pb::Crossing,
        deadline: Deadline,
    ) -> Result<(), Status> {
        let crossing_id = Uuid::parse_str(&crossing.crossing_id)
            .map_err(|e| error::internal("a stored crossing id", e))?;
        let saved = self
            .store
            .step_responses(&crossing.crossing_id)
            .await
            .map_err(|e| error::internal("reading the saga log", e))?;
        let plan = Self::compensation_plan(crossing, &saved)?;
        let open = self
            .store
            .open_steps(&crossing.crossing_id, compensation::STEP_PREFIX)
            .await
            .map_err(|e| error::internal("reading the saga log", e))?;
        let mut writes: Vec<Write> = open
            .into_iter()
            .filter(|step| !plan.iter().any(|action| action.step() == *step))
            .map(|step| Write::Done {
                crossing_id: crossing.crossing_id.clone(),
                step,
                response: String::new(),
            })
            .collect();
        let pending = plan
            .iter()
            .filter(|action| !saved.contains_key(&action.step()))
            .map(|action| async move {
                let answer = self.undo(crossing_id, action, deadline).await;
                (action, answer)
            });
        let mut unreachable = None;
        for (action, answer) in join_all(pending).await {
            let response = match answer {
                Ok(response) => response,
                Err(status) if worth_retrying(status.code()) => {
                    tracing::warn!(crossing_id = %crossing_id, step = %action.step(), code = ?status.code(), "compensation left for a retry");
                    unreachable = Some(status);
                    continue;
                }
                Err(status) => {
                    tracing::warn!(crossing_id = %crossing_id, step = %action.step(), code = ?status.code(), "an agency declined a compensation");
                    encode_status(&status)
                }
            };
            writes.push(Write::Done {
                crossing_id: crossing.crossing_id.clone(),
                step: action.step(),
                response,
            });
        }
        self.write_log(writes).await?;
        match unreachable {
            Some(status) => Err(status),
            None => Ok(()),
        }
    }

    /// Runs one compensation at its agency; its answer, encoded for the saga log.
    async fn undo(
        &self,
        crossing_id: Uuid,
        action: &Compensation,
        deadline: Deadline,
    ) -> Result<String, Status> {
        let request_id = step_id(crossing_id, &action.step());
        match action {
            Compensation::RefuseEntry {
                check_id,
                refusal_codes,
                text,
                ..
            } => {
                let message = identity::RefuseEntryRequest {
                    request_id,
                    check_id: check_id.clone(),
                    refusal_codes: refusal_codes.clone(),
                    text: text.clone(),
                };
                let response = self
                    .agencies
                    .step("identity", deadline, message, |request| {
                        let mut client = self.agencies.identity.clone();
                        async move { client.refuse_entry(request).await }
                    })
                    .await?;
                Ok(encode_record(&response))
            }
            Compensation::WithdrawExit { check_id, text, .. } => {
                let message = identity::WithdrawExitRequest {
                    request_id,
                    check_id: check_id.clone(),
                    text: text.clone(),
                };
                let response = self
                    .agencies
                    .step("identity", deadline, message, |request| {
                        let mut client = self.agencies.identity.clone();
                        async move { client.withdraw_exit(request).await }
                    })
                    .await?;
                Ok(encode_record(&response))
            }
            Compensation::InvalidateDeclaration {
                declaration_id,
                reason,
            } => {
                let message = customs::InvalidateDeclarationRequest {
                    request_id,
                    declaration_id: declaration_id.clone(),
                    reason: reason.clone(),
                };
                let response = self
                    .agencies
                    .step("customs", deadline, message, |request| {
                        let mut client = self.agencies.customs.clone();
                        async move { client.invalidate_declaration(request).await }
                    })
                    .await?;
                Ok(encode_record(&response))
            }
            Compensation::ReleaseAssessment {
                assessment_id,
                reason,
            } => {
                let message = sanitary::ReleaseAssessmentRequest {
                    request_id,
                    assessment_id: assessment_id.clone(),
                    reason: reason.clone(),
                };
                let response = self
                    .agencies
                    .step("sanitary", deadline, message, |request| {
                        let mut client = self.agencies.sanitary.clone();
                        async move { client.release_assessment(request).await }
                    })
                    .await?;
                Ok(encode_record(&response))
            }
        }
    }

    /// Abandons a crossing left PENDING past its time, with the intents of its compensations,
    /// then runs them; false when another driver moved it on first.
    pub(super) async fn abandon(
        &self,
        crossing: pb::Crossing,
        deadline: Deadline,
    ) -> Result<bool, Status> {
        let saved = self
            .store
            .step_responses(&crossing.crossing_id)
            .await
            .map_err(|e| error::internal("reading the saga log", e))?;
        let abandoned = pb::Crossing {
            status: pb::CrossingStatus::Abandoned.into(),
            update_time: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
            ..crossing
        };
        let mut writes = vec![Write::Finish {
            crossing: Box::new(abandoned.clone()),
            rejection: None,
        }];
        writes.extend(Self::compensation_intents(&abandoned, &saved)?);
        let finished = self
            .store
            .write(writes)
            .await
            .map_err(|e| error::internal("abandoning a crossing", e))?
            .first()
            .copied()
            .unwrap_or(false);
        if !finished {
            return Ok(false);
        }
        tracing::warn!(crossing_id = %abandoned.crossing_id, "crossing abandoned");
        self.publish(&abandoned);
        self.compensate(&abandoned, deadline).await?;
        Ok(true)
    }
}
