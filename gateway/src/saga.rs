//! The crossing saga: each agency call is a step whose intent is written before the call and
//! whose answer is written after it, so that a crossing interrupted by an outage or a crash is
//! resumed, by the caller's retry or by the recovery loop, without repeating any step's effect.
//! Every step carries a request id derived from the crossing and the step, which the agencies
//! honour, so even a step whose answer was lost is applied once.

use std::{
    collections::{BTreeMap, HashMap},
    future::Future,
    time::Duration,
};

use bordermesh_kit::{
    error::{self, FieldViolations},
    storage::{decode_record, encode_record},
};
use bordermesh_proto::{
    common::v1::{self as common, Agency, Money},
    crossing::v1 as pb,
    customs::v1 as customs,
    identity::v1 as identity,
    sanitary::v1 as sanitary,
};
use futures::future::join_all;
use opentelemetry::{KeyValue, metrics::Counter};
use prost::Message;
use rust_decimal::Decimal;
use tokio::sync::broadcast;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;
use uuid::Uuid;

use crate::{
    agencies::{Agencies, Deadline, call_idempotent},
    domain::{audit, compensation, decision},
    store::{Store, Write},
};

mod compensate;
mod second_line;

/// How long a PENDING crossing rests before the recovery loop takes it up, so that it does not
/// race the caller that is still driving it.
const RECOVERY_IDLE: Duration = Duration::from_secs(2);
/// Crossings the recovery loop resumes, and referred crossings it follows up, per round.
const RECOVERY_BATCH: i64 = 64;

/// What became of a drive.
pub enum Driven {
    /// Decided, or still PENDING because an agency could not be reached in time.
    Crossing(Box<pb::Crossing>),
    /// An agency refused the submission; the crossing is REJECTED with this status.
    Rejected(Status),
}

#[derive(Clone)]
pub struct Saga {
    store: Store,
    agencies: Agencies,
    /// How long a crossing may stay PENDING before it is abandoned.
    abandon_after: Duration,
    decided: Counter<u64>,
    changes: broadcast::Sender<pb::Crossing>,
}

/// Renames an agency's field paths into the crossing's, so the caller learns which of its own
/// fields is wrong: `traveller.document.mrz` of traveller 2 is `crossing.travellers[2].document.mrz`.
fn rename_violations(status: Status, rename: impl Fn(&str) -> String) -> Status {
    let details = status.get_error_details();
    let Some(bad_request) = details.bad_request() else {
        return error::status(Code::InvalidArgument, "INVALID_ARGUMENT", status.message());
    };
    let mut violations = FieldViolations::new();
    for violation in &bad_request.field_violations {
        violations.add(rename(&violation.field), violation.description.clone());
    }
    violations.into_status()
}

/// What the caller sees when an agency fails: its own words for bad input, a retryable code
/// for an outage, and an opaque INTERNAL for the rest.
fn agency_error(agency: &str, status: Status, rename: impl Fn(&str) -> String) -> Status {
    match status.code() {
        Code::InvalidArgument => rename_violations(status, rename),
        Code::Unavailable => error::status(
            Code::Unavailable,
            "AGENCY_UNAVAILABLE",
            format!("{agency} is unavailable; retry with the same request_id"),
        ),
        Code::DeadlineExceeded | Code::Cancelled => error::status(
            Code::DeadlineExceeded,
            "AGENCY_TIMEOUT",
            format!("{agency} did not answer within the deadline; retry with the same request_id"),
        ),
        _ => error::internal(agency, status.message()),
    }
}

fn crossing_path(prefix: &str) -> impl Fn(&str) -> String + '_ {
    move |field: &str| {
        if let Some(rest) = field.strip_prefix("items") {
            format!("crossing.goods{rest}")
        } else if let Some(rest) = field.strip_prefix("traveller") {
            format!("{prefix}{rest}")
        } else {
            format!("crossing.{field}")
        }
    }
}

/// A subject path of an agency's reason, in the crossing's terms.
fn subject_in_crossing(subject: &str, traveller: Option<usize>) -> String {
    match (traveller, subject.strip_prefix("traveller")) {
        (Some(index), Some(rest)) => format!("travellers[{index}]{rest}"),
        _ => match subject.strip_prefix("items") {
            Some(rest) => format!("goods{rest}"),
            None => subject.to_owned(),
        },
    }
}

fn with_subjects(reasons: Vec<common::Reason>, traveller: Option<usize>) -> Vec<common::Reason> {
    reasons
        .into_iter()
        .map(|reason| common::Reason {
            subject: subject_in_crossing(&reason.subject, traveller),
            ..reason
        })
        .collect()
}

fn step_id(crossing_id: Uuid, step: &str) -> String {
    Uuid::new_v5(&crossing_id, step.as_bytes()).to_string()
}

/// Duties, excise and VAT added up per currency.
fn amounts_due(declaration: &customs::Declaration) -> Vec<Money> {
    let mut totals: BTreeMap<String, Decimal> = BTreeMap::new();
    for money in declaration
        .total_duty
        .iter()
        .chain(&declaration.total_excise)
        .chain(&declaration.total_vat)
    {
        if let Ok(amount) = money.amount.parse::<Decimal>() {
            *totals.entry(money.currency_code.clone()).or_default() += amount;
        }
    }
    totals
        .into_iter()
        .map(|(currency_code, amount)| Money {
            currency_code,
            amount: amount.to_string(),
        })
        .collect()
}

impl Saga {
    pub fn new(store: Store, agencies: Agencies, abandon_after: Duration) -> Self {
        Self {
            store,
            agencies,
            abandon_after,
            decided: opentelemetry::global::meter("bordermesh")
                .u64_counter("bordermesh.crossings")
                .with_description("Crossings decided, by outcome")
                .build(),
            changes: broadcast::channel(1024).0,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Every change of every crossing this gateway makes.
    pub fn subscribe(&self) -> broadcast::Receiver<pb::Crossing> {
        self.changes.subscribe()
    }

    /// Publishes a change to the watchers; nobody watching is fine.
    pub fn publish(&self, crossing: &pb::Crossing) {
        let _ = self.changes.send(crossing.clone());
    }

    /// One step: the answer the saga log holds, or else the agency's answer with the write that
    /// records it. The step's intent is written before, with the other steps of its wave.
    #[allow(clippy::too_many_arguments)]
    async fn step<M, R, F, Fut>(
        &self,
        saved: &HashMap<String, String>,
        crossing_id: Uuid,
        agency: &'static str,
        step: &str,
        deadline: Deadline,
        message: M,
        call: F,
    ) -> Result<(R, Option<Write>), Status>
    where
        M: Clone,
        R: Message + Default,
        F: FnMut(Request<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        if let Some(saved) = saved.get(step) {
            let response =
                decode_record(saved).map_err(|e| error::internal("decoding a saga step", e))?;
            return Ok((response, None));
        }
        let response = self.agencies.step(agency, deadline, message, call).await?;
        let done = Write::Done {
            crossing_id: crossing_id.to_string(),
            step: step.into(),
            response: encode_record(&response),
        };
        Ok((response, Some(done)))
    }

    /// Drives a PENDING crossing as far as the agencies allow within `deadline`;
    /// `intents_written` when the first wave's intents were written with the crossing.
    pub async fn drive(
        &self,
        crossing: pb::Crossing,
        deadline: Deadline,
        intents_written: bool,
    ) -> Result<Driven, Status> {
        let crossing_id = Uuid::parse_str(&crossing.crossing_id)
            .map_err(|e| error::internal("a stored crossing id", e))?;
        let submission = crossing.submission.clone().unwrap_or_default();
        let now = Some(prost_types::Timestamp::from(std::time::SystemTime::now()));
        match self
            .decide(crossing_id, &submission, deadline, intents_written)
            .await
        {
            Ok(Decided {
                decision,
                traveller_keys,
                mut writes,
                answered,
            }) => {
                let outcome = decision.outcome().as_str_name();
                let decided = pb::Crossing {
                    status: pb::CrossingStatus::Decided.into(),
                    decision: Some(decision),
                    update_time: now,
                    ..crossing
                };
                writes.push(Write::Travellers {
                    crossing_id: decided.crossing_id.clone(),
                    keys: traveller_keys,
                });
                writes.push(Write::Finish {
                    crossing: Box::new(decided.clone()),
                    rejection: None,
                });
                let finish_index = writes.len() - 1;
                let compensations = Self::compensation_intents(&decided, &answered)?;
                let compensates = !compensations.is_empty();
                writes.extend(compensations);
                let finished = self
                    .store
                    .write(writes)
                    .await
                    .map_err(|e| error::internal("storing a decision", e))?
                    .get(finish_index)
                    .copied()
                    .unwrap_or(false);
                if !finished {
                    return self
                        .reread(&decided.crossing_id)
                        .await
                        .map(|crossing| Driven::Crossing(Box::new(crossing)));
                }
                self.decided.add(1, &[KeyValue::new("outcome", outcome)]);
                tracing::info!(crossing_id = %decided.crossing_id, outcome, "crossing decided");
                self.publish(&decided);
                if compensates {
                    self.compensate_behind(decided.clone(), deadline);
                }
                Ok(Driven::Crossing(Box::new(decided)))
            }
            Err(status) if status.code() == Code::InvalidArgument => {
                let rejected = pb::Crossing {
                    status: pb::CrossingStatus::Rejected.into(),
                    update_time: now,
                    ..crossing
                };
                let answered = self
                    .store
                    .step_responses(&rejected.crossing_id)
                    .await
                    .map_err(|e| error::internal("reading the saga log", e))?;
                let compensations = Self::compensation_intents(&rejected, &answered)?;
                let compensates = !compensations.is_empty();
                let mut writes = vec![Write::Finish {
                    crossing: Box::new(rejected.clone()),
                    rejection: Some(encode_status(&status)),
                }];
                writes.extend(compensations);
                let finished = self
                    .store
                    .write(writes)
                    .await
                    .map_err(|e| error::internal("storing a rejection", e))?
                    .first()
                    .copied()
                    .unwrap_or(false);
                if finished {
                    tracing::info!(crossing_id = %rejected.crossing_id, "crossing rejected by an agency");
                    self.publish(&rejected);
                    if compensates {
                        self.compensate_behind(rejected, deadline);
                    }
                }
                Ok(Driven::Rejected(status))
            }
            Err(status) if matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded) => {
                tracing::warn!(crossing_id = %crossing.crossing_id, code = ?status.code(), "crossing left pending");
                Ok(Driven::Crossing(Box::new(crossing)))
            }
            Err(status) => Err(status),
        }
    }

    async fn reread(&self, crossing_id: &str) -> Result<pb::Crossing, Status> {
        self.store
            .by_id(crossing_id)
            .await
            .map_err(|e| error::internal("reading a crossing", e))?
            .ok_or_else(|| error::internal("reading a crossing", "crossing vanished"))
    }

    /// Resumes crossings left PENDING (by an outage, or a crash of any gateway replica) until
    /// `shutdown`; runs once at start.
    pub async fn recover(
        self,
        budget: Duration,
        every: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        loop {
            match self
                .store
                .pending(RECOVERY_IDLE.as_millis() as i64, RECOVERY_BATCH)
                .await
            {
                Ok(pending) => {
                    for crossing in pending {
                        let id = crossing.crossing_id.clone();
                        let driven = if self.overdue(&crossing) {
                            self.abandon(crossing, Deadline::after(budget))
                                .await
                                .map(drop)
                        } else {
                            self.drive(crossing, Deadline::after(budget), false)
                                .await
                                .map(drop)
                        };
                        if let Err(status) = driven {
                            tracing::warn!(crossing_id = %id, code = ?status.code(), "recovery could not finish a crossing");
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error, "recovery could not read pending crossings")
                }
            }
            if let Err(error) = self.follow_up_referrals(budget).await {
                tracing::warn!(error = %error, "could not follow up referred crossings");
            }
            self.retry_compensations(budget).await;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}

impl Saga {
    /// Undoes a crossing's recorded effects behind the answer its caller gets now; the recovery
    /// loop finishes what an unreachable agency leaves open.
    fn compensate_behind(&self, crossing: pb::Crossing, deadline: Deadline) {
        let saga = self.clone();
        tokio::spawn(async move {
            if let Err(status) = saga.compensate(&crossing, deadline).await {
                tracing::warn!(crossing_id = %crossing.crossing_id, code = ?status.code(), "compensation left to the recovery loop");
            }
        });
    }

    /// Whether a PENDING crossing has outlived its time.
    fn overdue(&self, crossing: &pb::Crossing) -> bool {
        let created = crossing
            .create_time
            .and_then(|time| std::time::SystemTime::try_from(time).ok());
        created
            .and_then(|created| created.elapsed().ok())
            .is_some_and(|age| age > self.abandon_after)
    }

    /// Runs again the compensations an agency has not answered yet.
    async fn retry_compensations(&self, budget: Duration) {
        let open = self
            .store
            .with_open_steps(
                compensation::STEP_PREFIX,
                RECOVERY_IDLE.as_millis() as i64,
                RECOVERY_BATCH,
            )
            .await;
        match open {
            Ok(crossings) => {
                for crossing in crossings {
                    if let Err(status) = self.compensate(&crossing, Deadline::after(budget)).await {
                        tracing::warn!(crossing_id = %crossing.crossing_id, code = ?status.code(), "compensation still open");
                    }
                }
            }
            Err(error) => tracing::warn!(error = %error, "could not read open compensations"),
        }
    }

    /// The second line: asks each agency a referred crossing was referred to whether its
    /// second line decided (the border police's interview, customs' examination, the sanitary
    /// inspection), and when the answers change the decision, updates the crossing, tells its
    /// watchers, and undoes the crossing's effects if it is now refused.
    async fn follow_up_referrals(&self, budget: Duration) -> anyhow::Result<()> {
        for (crossing, stored_record) in self.store.referred_for_follow_up(RECOVERY_BATCH).await? {
            let Some(decision) = crossing.decision.clone() else {
                continue;
            };
            let read = self.second_line_records(&decision, budget).await?;
            let mut findings = decision.findings.clone();
            read.apply(&mut findings);
            if findings == decision.findings {
                continue;
            }
            let saved = self.store.step_responses(&crossing.crossing_id).await?;
            let submission = crossing.submission.clone().unwrap_or_default();
            let logged = first_line_answers(&saved, submission.travellers.len())
                .and_then(|answers| Ok((answers, second_line::SecondLine::logged(&saved)?)));
            let (answers, mut second_line) = match logged {
                Ok(logged) => logged,
                Err(error) => {
                    // One crossing whose log cannot be read must not hold up the others.
                    tracing::warn!(crossing_id = %crossing.crossing_id, %error, "second line not applied");
                    continue;
                }
            };
            second_line.merge(&read);
            let updated_decision = second_line::decide(
                &decision,
                first_line_inputs(&submission, &answers),
                answers.declaration.as_ref(),
                &second_line,
            );
            if updated_decision == decision {
                continue;
            }
            let outcome = updated_decision.outcome().as_str_name();
            let updated = pb::Crossing {
                decision: Some(updated_decision),
                update_time: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
                ..crossing.clone()
            };
            let compensations = Self::compensation_intents(&updated, &saved).map_err(|status| {
                anyhow::anyhow!("planning compensations: {}", status.message())
            })?;
            let compensates = !compensations.is_empty();
            let mut writes = vec![Write::UpdateDecided {
                previous_record: stored_record,
                updated: Box::new(updated.clone()),
                records: read.steps(),
            }];
            writes.extend(compensations);
            if self.store.write(writes).await?.first() == Some(&true) {
                tracing::info!(crossing_id = %updated.crossing_id, outcome, "second line decided");
                self.publish(&updated);
                if compensates {
                    self.compensate_behind(updated, Deadline::after(budget));
                }
            }
        }
        Ok(())
    }

    /// The records of the agencies whose referrals in `decision` are still open, as far as
    /// their second line has decided them.
    async fn second_line_records(
        &self,
        decision: &pb::Decision,
        budget: Duration,
    ) -> Result<second_line::SecondLine, Status> {
        let mut read = second_line::SecondLine::default();
        for finding in &decision.findings {
            if finding.verdict() != common::Verdict::Refer {
                continue;
            }
            match finding.agency() {
                Agency::BorderPolice => {
                    let check = self.current_check(&finding.record_id, budget).await?;
                    if let Some(check) = check.filter(|check| check.second_line.is_some()) {
                        read.checks.insert(finding.record_id.clone(), check);
                    }
                }
                Agency::Customs => {
                    let declaration = self.current_declaration(&finding.record_id, budget).await?;
                    read.declaration =
                        declaration.filter(|declaration| declaration.examination.is_some());
                }
                Agency::Sanitary => {
                    if !read.assessments.contains_key(&finding.record_id) {
                        let assessment =
                            self.current_assessment(&finding.record_id, budget).await?;
                        if let Some(assessment) = assessment {
                            read.assessments
                                .insert(finding.record_id.clone(), assessment);
                        }
                    }
                }
                Agency::Unspecified => {}
            }
        }
        Ok(read)
    }

    /// The border police's check as it stands now.
    async fn current_check(
        &self,
        check_id: &str,
        budget: Duration,
    ) -> Result<Option<identity::TravellerCheck>, Status> {
        let message = identity::GetTravellerCheckRequest {
            check_id: check_id.into(),
        };
        let answer = call_idempotent(Deadline::after(budget), message, |request| {
            let mut client = self.agencies.identity.clone();
            async move { client.get_traveller_check(request).await }
        })
        .await?;
        Ok(answer.check)
    }

    /// Customs' declaration as it stands now.
    async fn current_declaration(
        &self,
        declaration_id: &str,
        budget: Duration,
    ) -> Result<Option<customs::Declaration>, Status> {
        let message = customs::GetDeclarationRequest {
            declaration_id: declaration_id.into(),
        };
        let answer = call_idempotent(Deadline::after(budget), message, |request| {
            let mut client = self.agencies.customs.clone();
            async move { client.get_declaration(request).await }
        })
        .await?;
        Ok(answer.declaration)
    }

    /// The sanitary assessment as it stands now.
    async fn current_assessment(
        &self,
        assessment_id: &str,
        budget: Duration,
    ) -> Result<Option<sanitary::Assessment>, Status> {
        let message = sanitary::GetAssessmentRequest {
            assessment_id: assessment_id.into(),
        };
        let answer = call_idempotent(Deadline::after(budget), message, |request| {
            let mut client = self.agencies.sanitary.clone();
            async move { client.get_assessment(request).await }
        })
        .await?;
        Ok(answer.assessment)
    }
}

/// The traveller a finding's subject (`travellers[2]`) names.
fn traveller_index(subject: &str) -> Option<usize> {
    subject
        .strip_prefix("travellers[")?
        .split_once(']')?
        .0
        .parse()
        .ok()
}

/// A refusal as stored: the encoded google.rpc.Status with its details.
fn encode_status(status: &Status) -> String {
    let details = tonic_types::pb::Status::decode(status.details()).unwrap_or_default();
    let stored = tonic_types::pb::Status {
        code: status.code() as i32,
        message: status.message().to_owned(),
        details: details.details,
    };
    encode_record(&stored)
}

/// The stored refusal, as the caller first received it.
pub fn decode_status(stored: &str) -> Result<Status, Status> {
    let status: tonic_types::pb::Status =
        decode_record(stored).map_err(|e| error::internal("decoding a stored rejection", e))?;
    Ok(Status::with_details(
        Code::from(status.code),
        status.message.clone(),
        status.encode_to_vec().into(),
    ))
}

impl Saga {
    /// The border police's check of each traveller, in parallel.
    async fn check_travellers(
        &self,
        saved: &HashMap<String, String>,
        crossing_id: Uuid,
        crossing: &pb::CrossingSubmission,
        deadline: Deadline,
    ) -> Vec<Result<(identity::CheckTravellerResponse, Option<Write>), Status>> {
        let checks = crossing
            .travellers
            .iter()
            .enumerate()
            .map(|(index, traveller)| {
                let step = identity_step(index);
                let message = identity::CheckTravellerRequest {
                    request_id: step_id(crossing_id, &step),
                    crossing_point: crossing.crossing_point.clone(),
                    direction: crossing.direction,
                    traveller: Some(traveller.clone()),
                    crossing_date: crossing.crossing_date,
                };
                async move {
                    self.step(
                        saved,
                        crossing_id,
                        "identity",
                        &step,
                        deadline,
                        message,
                        |request| {
                            let mut client = self.agencies.identity.clone();
                            async move { client.check_traveller(request).await }
                        },
                    )
                    .await
                    .map_err(|status| {
                        let prefix = format!("crossing.travellers[{index}]");
                        agency_error("border police", status, crossing_path(&prefix))
                    })
                }
            });
        join_all(checks).await
    }

    /// Lodges the goods and cash with customs; `None` when there is nothing to declare.
    async fn declare_to_customs(
        &self,
        saved: &HashMap<String, String>,
        crossing_id: Uuid,
        crossing: &pb::CrossingSubmission,
        deadline: Deadline,
    ) -> Result<(Option<customs::Declaration>, Option<Write>), Status> {
        if !declares_to_customs(crossing) {
            return Ok((None, None));
        }
        let message = customs::AssessDeclarationRequest {
            request_id: step_id(crossing_id, CUSTOMS_STEP),
            crossing_point: crossing.crossing_point.clone(),
            direction: crossing.direction,
            transport_mode: crossing.transport_mode,
            procedure: crossing.procedure,
            declarant: crossing.declarant.clone(),
            vehicle: crossing.vehicle.clone(),
            items: crossing.goods.clone(),
            cash: crossing.cash.clone(),
            crossing_date: crossing.crossing_date,
            // A crossing's goods are not attributed to one traveller: the adult allowance applies.
            traveller_under_15: false,
        };
        let (response, done) = self
            .step(
                saved,
                crossing_id,
                "customs",
                CUSTOMS_STEP,
                deadline,
                message,
                |request| {
                    let mut client = self.agencies.customs.clone();
                    async move { client.assess_declaration(request).await }
                },
            )
            .await
            .map_err(|status| agency_error("customs", status, crossing_path("crossing")))?;
        Ok((response.declaration, done))
    }

    /// Sends declared consignments and customs' referrals to the sanitary service.
    async fn assess_consignments(
        &self,
        saved: &HashMap<String, String>,
        crossing_id: Uuid,
        message: sanitary::AssessConsignmentsRequest,
        deadline: Deadline,
    ) -> Result<(Option<sanitary::Assessment>, Option<Write>), Status> {
        let (response, done) = self
            .step(
                saved,
                crossing_id,
                "sanitary",
                SANITARY_STEP,
                deadline,
                message,
                |request| {
                    let mut client = self.agencies.sanitary.clone();
                    async move { client.assess_consignments(request).await }
                },
            )
            .await
            .map_err(|status| {
                agency_error("sanitary inspection", status, crossing_path("crossing"))
            })?;
        Ok((response.assessment, done))
    }

    /// Consults every agency the crossing concerns and aggregates their findings: the border
    /// police and customs first, in parallel, then the sanitary service with customs'
    /// referrals. Each wave's intents are written before its calls, and the answers of the
    /// first wave with the second's intent; the answers still unwritten come back with the
    /// decision, to be written with it.
    async fn decide(
        &self,
        crossing_id: Uuid,
        crossing: &pb::CrossingSubmission,
        deadline: Deadline,
        intents_written: bool,
    ) -> Result<Decided, Status> {
        let id = crossing_id.to_string();
        // A crossing accepted in this call, its intents with it, has no answers yet.
        let saved = if intents_written {
            HashMap::new()
        } else {
            self.store
                .step_responses(&id)
                .await
                .map_err(|e| error::internal("reading the saga log", e))?
        };
        let intent = |step: &str| Write::Intent {
            crossing_id: id.clone(),
            step: step.into(),
        };
        if !intents_written {
            let intents: Vec<Write> = first_wave_steps(crossing)
                .iter()
                .filter(|step| !saved.contains_key(*step))
                .map(|step| intent(step))
                .collect();
            self.write_log(intents).await?;
        }
        let (checks, declared) = tokio::join!(
            self.check_travellers(&saved, crossing_id, crossing, deadline),
            self.declare_to_customs(&saved, crossing_id, crossing, deadline),
        );
        let mut writes = Vec::new();
        let mut failure = None;
        let mut answered_checks = Vec::with_capacity(checks.len());
        for check in checks {
            match check {
                Ok((response, done)) => {
                    writes.extend(done);
                    answered_checks.push(response);
                }
                Err(status) => failure = Some(failure.unwrap_or(status)),
            }
        }
        let declaration = match declared {
            Ok((declaration, done)) => {
                writes.extend(done);
                declaration
            }
            Err(status) => {
                failure = Some(failure.unwrap_or(status));
                None
            }
        };
        if let Some(status) = failure {
            self.write_log(writes).await?;
            return Err(status);
        }
        let sanitary_request = sanitary_request(crossing_id, crossing, declaration.as_ref());
        // The first wave's answers wait for the decision's commit, unless the sanitary step's
        // intent must be written before its call and they can go with it. Until then a crash
        // costs only calls again, which the agencies answer from their idempotency records.
        let mut answers_written = Vec::new();
        if sanitary_request.is_some()
            && !saved.contains_key(SANITARY_STEP)
            && !sanitary_intended_first(crossing)
        {
            writes.push(intent(SANITARY_STEP));
            answers_written = writes.iter().filter_map(answer_of).collect();
            self.write_log(std::mem::take(&mut writes)).await?;
        }
        let assessment = match sanitary_request {
            Some(message) => {
                match self
                    .assess_consignments(&saved, crossing_id, message, deadline)
                    .await
                {
                    Ok((assessment, done)) => {
                        writes.extend(done);
                        assessment
                    }
                    Err(status) => {
                        // What the first wave answered is logged for the compensations and
                        // the retries that follow.
                        self.write_log(writes).await?;
                        return Err(status);
                    }
                }
            }
            None => None,
        };
        let answers = Answers {
            checks: answered_checks,
            declaration,
            assessment,
        };
        let (decision, traveller_keys) = first_line(crossing, &answers);
        let mut answered = saved;
        answered.extend(
            answers_written
                .into_iter()
                .chain(writes.iter().filter_map(answer_of)),
        );
        Ok(Decided {
            decision,
            traveller_keys,
            writes,
            answered,
        })
    }

    /// Writes saga log entries now; nothing to write is no write.
    async fn write_log(&self, writes: Vec<Write>) -> Result<(), Status> {
        if writes.is_empty() {
            return Ok(());
        }
        self.store
            .write(writes)
            .await
            .map(drop)
            .map_err(|e| error::internal("writing the saga log", e))
    }
}

/// A first-line decision, with the saga log writes still to make with it and every step's
/// answer by step.
struct Decided {
    decision: pb::Decision,
    traveller_keys: Vec<String>,
    writes: Vec<Write>,
    answered: HashMap<String, String>,
}

/// The step and answer a write records, if it records one.
fn answer_of(write: &Write) -> Option<(String, String)> {
    match write {
        Write::Done { step, response, .. } => Some((step.clone(), response.clone())),
        _ => None,
    }
}

const CUSTOMS_STEP: &str = "customs";
const SANITARY_STEP: &str = "sanitary";

fn identity_step(index: usize) -> String {
    format!("identity/{index}")
}

/// The steps of a crossing's first wave (the border police and customs), whose intents a new
/// crossing writes with its acceptance; with them the sanitary step, when the crossing
/// declares consignments and so calls the sanitary service whatever customs answers.
pub fn first_wave_steps(crossing: &pb::CrossingSubmission) -> Vec<String> {
    let customs = declares_to_customs(crossing).then(|| CUSTOMS_STEP.to_owned());
    let sanitary = sanitary_intended_first(crossing).then(|| SANITARY_STEP.to_owned());
    (0..crossing.travellers.len())
        .map(identity_step)
        .chain(customs)
        .chain(sanitary)
        .collect()
}

fn sanitary_intended_first(crossing: &pb::CrossingSubmission) -> bool {
    !crossing.consignments.is_empty()
}

fn declares_to_customs(crossing: &pb::CrossingSubmission) -> bool {
    !crossing.goods.is_empty() || !crossing.cash.is_empty()
}

/// The sanitary step's request: the declared consignments and customs' referrals to the
/// sanitary service; `None` when there is neither.
fn sanitary_request(
    crossing_id: Uuid,
    crossing: &pb::CrossingSubmission,
    declaration: Option<&customs::Declaration>,
) -> Option<sanitary::AssessConsignmentsRequest> {
    let referrals: Vec<sanitary::CustomsReferral> = declaration
        .map(|d| d.referrals.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|referral| referral.agency == i32::from(Agency::Sanitary))
        .map(|referral| {
            let origin = usize::try_from(referral.item_index)
                .ok()
                .and_then(|index| crossing.goods.get(index))
                .map(|item| item.origin_country.clone())
                .unwrap_or_default();
            sanitary::CustomsReferral {
                subject: format!("goods[{}]", referral.item_index),
                commodity_code: referral.commodity_code.clone(),
                origin_country: origin,
                document_type: referral.document_type.clone(),
            }
        })
        .collect();
    if crossing.consignments.is_empty() && referrals.is_empty() {
        return None;
    }
    Some(sanitary::AssessConsignmentsRequest {
        request_id: step_id(crossing_id, SANITARY_STEP),
        crossing_point: crossing.crossing_point.clone(),
        direction: crossing.direction,
        consignments: crossing.consignments.clone(),
        referrals,
        crossing_date: crossing.crossing_date,
    })
}

/// Recomputes a crossing's first-line decision from the agencies' answers in the saga log,
/// with the rules this build carries.
pub async fn replay(store: &Store, crossing: &pb::Crossing) -> anyhow::Result<Replay> {
    let submission = crossing.submission.clone().unwrap_or_default();
    let saved = store.step_responses(&crossing.crossing_id).await?;
    let answers = first_line_answers(&saved, submission.travellers.len())?;
    let (first_line, _) = first_line(&submission, &answers);
    let second_line = second_line::SecondLine::logged(&saved)?;
    let recomputed = if second_line.is_empty() {
        first_line
    } else {
        second_line::decide(
            &first_line,
            first_line_inputs(&submission, &answers),
            answers.declaration.as_ref(),
            &second_line,
        )
    };
    Ok(Replay {
        stored: crossing.decision.clone().unwrap_or_default(),
        recomputed,
    })
}

/// The first line's answers as the saga log holds them, every traveller's check included.
fn first_line_answers(
    saved: &HashMap<String, String>,
    travellers: usize,
) -> anyhow::Result<Answers> {
    let logged = logged_answers(saved, travellers)?;
    let checks = logged
        .checks
        .into_iter()
        .enumerate()
        .map(|(index, check)| {
            check.ok_or_else(|| {
                anyhow::anyhow!(
                    "the saga log has no answer for step {}",
                    identity_step(index)
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Answers {
        checks,
        declaration: logged.declaration,
        assessment: logged.assessment,
    })
}

/// What the saga log holds of the agencies' answers for a crossing of `travellers` travellers.
struct LoggedAnswers {
    checks: Vec<Option<identity::CheckTravellerResponse>>,
    declaration: Option<customs::Declaration>,
    assessment: Option<sanitary::Assessment>,
}

fn logged_answers(
    saved: &HashMap<String, String>,
    travellers: usize,
) -> anyhow::Result<LoggedAnswers> {
    let checks = (0..travellers)
        .map(|index| {
            saved
                .get(&identity_step(index))
                .map(|answer| decode_record::<identity::CheckTravellerResponse>(answer))
                .transpose()
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let declaration = saved
        .get(CUSTOMS_STEP)
        .map(|answer| decode_record::<customs::AssessDeclarationResponse>(answer))
        .transpose()?
        .and_then(|response| response.declaration);
    let assessment = saved
        .get(SANITARY_STEP)
        .map(|answer| decode_record::<sanitary::AssessConsignmentsResponse>(answer))
        .transpose()?
        .and_then(|response| response.assessment);
    Ok(LoggedAnswers {
        checks,
        declaration,
        assessment,
    })
}

/// What the agencies answered for one crossing.
pub struct Answers {
    pub checks: Vec<identity::CheckTravellerResponse>,
    pub declaration: Option<customs::Declaration>,
    pub assessment: Option<sanitary::Assessment>,
}

/// The first line's decision from the agencies' answers, with the digest of its inputs and the
/// versions of the rule sets that made it; and the keys of the travellers it concerns.
pub fn first_line(
    submission: &pb::CrossingSubmission,
    answers: &Answers,
) -> (pb::Decision, Vec<String>) {
    let mut findings = Vec::new();
    let mut traveller_keys = Vec::new();
    for (index, response) in answers.checks.iter().enumerate() {
        let check = response.check.clone().unwrap_or_default();
        if let Some(document) = &check.document {
            traveller_keys.push(audit::traveller_key(
                &document.issuing_state,
                &document.document_number,
            ));
        }
        findings.push(pb::Finding {
            agency: Agency::BorderPolice.into(),
            subject: format!("travellers[{index}]"),
            verdict: check.verdict,
            reasons: with_subjects(check.reasons, Some(index)),
            record_id: check.check_id,
        });
    }
    let mut amounts = Vec::new();
    let mut customs_conditions = Vec::new();
    if let Some(declaration) = &answers.declaration {
        amounts = amounts_due(declaration);
        customs_conditions = decision::customs_conditions(declaration);
        findings.push(pb::Finding {
            agency: Agency::Customs.into(),
            subject: "goods".into(),
            verdict: decision::customs_verdict(declaration).into(),
            reasons: with_subjects(declaration.reasons.clone(), None),
            record_id: declaration.declaration_id.clone(),
        });
    }
    if let Some(assessment) = &answers.assessment {
        findings.extend(
            assessment
                .consignments
                .iter()
                .map(|consignment| pb::Finding {
                    agency: Agency::Sanitary.into(),
                    subject: consignment.subject.clone(),
                    verdict: consignment.verdict,
                    reasons: consignment.reasons.clone(),
                    record_id: assessment.assessment_id.clone(),
                }),
        );
    }
    let mut decision = decision::decide(findings, amounts, customs_conditions);
    decision.inputs_digest = decision::digest(&first_line_inputs(submission, answers));
    decision.rule_sets = vec![pb::RuleSet {
        name: decision::RULE_SET.into(),
        version: decision::RULE_SET_VERSION.into(),
    }];
    if let Some(declaration) = &answers.declaration {
        decision.rule_sets.push(pb::RuleSet {
            name: "bordermesh.customs.risk".into(),
            version: declaration.risk_rule_set_version.clone(),
        });
    }
    (decision, traveller_keys)
}

/// What the first line's decision depends on: the submission and every agency's answer.
fn first_line_inputs(submission: &pb::CrossingSubmission, answers: &Answers) -> Vec<Vec<u8>> {
    let mut inputs = vec![submission.encode_to_vec()];
    inputs.extend(answers.checks.iter().map(Message::encode_to_vec));
    inputs.extend(answers.declaration.iter().map(Message::encode_to_vec));
    inputs.extend(answers.assessment.iter().map(Message::encode_to_vec));
    inputs
}

/// A stored decision beside the one its inputs give today.
pub struct Replay {
    pub stored: pb::Decision,
    pub recomputed: pb::Decision,
}

impl Replay {
    /// Whether today's rules give the decision that was stored.
    pub fn matches(&self) -> bool {
        self.stored.inputs_digest == self.recomputed.inputs_digest
            && self.stored.rule_sets == self.recomputed.rule_sets
            && self.stored.outcome == self.recomputed.outcome
            && self.stored.findings == self.recomputed.findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agency_field_paths_become_crossing_paths() {
        let traveller = crossing_path("crossing.travellers[2]");
        assert_eq!(
            traveller("traveller.document.mrz"),
            "crossing.travellers[2].document.mrz"
        );
        assert_eq!(traveller("crossing_date"), "crossing.crossing_date");
        let goods = crossing_path("crossing");
        assert_eq!(
            goods("items[3].commodity_code"),
            "crossing.goods[3].commodity_code"
        );
        assert_eq!(
            goods("consignments[0].species"),
            "crossing.consignments[0].species"
        );
        assert_eq!(
            subject_in_crossing("traveller.document.mrz", Some(1)),
            "travellers[1].document.mrz"
        );
        assert_eq!(
            subject_in_crossing("items[0].commodity_code", None),
            "goods[0].commodity_code"
        );
    }
}
