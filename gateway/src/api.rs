//! The tonic CrossingService: validates a crossing, consults the agencies, aggregates one
//! decision and stores it once per request id.

use std::{collections::BTreeMap, time::Duration};

use bordermesh_kit::{
    error::{self, FieldViolations},
    validate,
};
use bordermesh_proto::{
    common::v1::{self as common, Agency, Money},
    crossing::v1::{self as pb, crossing_service_server::CrossingService},
    customs::v1 as customs,
    identity::v1 as identity,
    sanitary::v1 as sanitary,
};
use futures::future::try_join_all;
use rust_decimal::Decimal;
use tonic::{Code, Request, Response, Status};
use tonic_types::StatusExt;
use uuid::Uuid;

use crate::{
    agencies::{Agencies, Deadline, call_idempotent},
    domain::decision,
    store::Store,
};

/// Most travellers one crossing may carry (a full coach or a train carriage).
const MAX_TRAVELLERS: usize = 500;

/// Namespace of crossing ids: the id is derived from the request id, so that concurrent
/// copies of one request name the same crossing and the same downstream calls.
const CROSSING_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b0a_5e7d_4c1e_9a3b_8d2f_0e4a_7c61);

pub struct CrossingApi {
    store: Store,
    agencies: Agencies,
    budget: Duration,
}

impl CrossingApi {
    pub fn new(store: Store, agencies: Agencies, budget: Duration) -> Self {
        Self {
            store,
            agencies,
            budget,
        }
    }
}

/// Checks what the gateway itself owns; the agencies check their own fields.
fn validate_request(
    request: &pb::ProcessCrossingRequest,
) -> Result<&pb::CrossingSubmission, Status> {
    let mut violations = FieldViolations::new();
    validate::request_id(&request.request_id, &mut violations);
    let Some(crossing) = request.crossing.as_ref() else {
        violations.add("crossing", "is required");
        return Err(violations.into_status());
    };
    match &crossing.crossing_point {
        Some(point) => {
            validate::required_text("crossing.crossing_point.code", &point.code, &mut violations);
            validate::country(
                "crossing.crossing_point.country",
                &point.country,
                &mut violations,
            );
        }
        None => violations.add("crossing.crossing_point", "is required"),
    }
    validate::required_enum::<common::Direction>(
        "crossing.direction",
        crossing.direction,
        &mut violations,
    );
    if let Some(date) = &crossing.crossing_date {
        validate::date("crossing.crossing_date", Some(date), &mut violations);
    }
    if crossing.travellers.is_empty()
        && crossing.goods.is_empty()
        && crossing.consignments.is_empty()
    {
        violations.add(
            "crossing.travellers",
            "a crossing needs at least one traveller, goods item or consignment",
        );
    }
    if crossing.travellers.len() > MAX_TRAVELLERS {
        violations.add(
            "crossing.travellers",
            format!("at most {MAX_TRAVELLERS} travellers per crossing"),
        );
    }
    for (index, traveller) in crossing.travellers.iter().enumerate() {
        if traveller.document.is_none() {
            violations.add(
                format!("crossing.travellers[{index}].document"),
                "is required",
            );
        }
    }
    violations.into_result(crossing)
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

impl CrossingApi {
    async fn check_travellers(
        &self,
        crossing_id: Uuid,
        crossing: &pb::CrossingSubmission,
        deadline: Deadline,
    ) -> Result<Vec<pb::Finding>, Status> {
        let checks = crossing
            .travellers
            .iter()
            .enumerate()
            .map(|(index, traveller)| {
                let message = identity::CheckTravellerRequest {
                    request_id: step_id(crossing_id, &format!("identity/{index}")),
                    crossing_point: crossing.crossing_point.clone(),
                    direction: crossing.direction,
                    traveller: Some(traveller.clone()),
                    crossing_date: crossing.crossing_date,
                };
                async move {
                    let response = call_idempotent(deadline, message, |request| {
                        let mut client = self.agencies.identity.clone();
                        async move { client.check_traveller(request).await }
                    })
                    .await
                    .map_err(|status| {
                        let prefix = format!("crossing.travellers[{index}]");
                        agency_error("border police", status, crossing_path(&prefix))
                    })?;
                    let check = response.check.unwrap_or_default();
                    Ok::<_, Status>(pb::Finding {
                        agency: Agency::BorderPolice.into(),
                        subject: format!("travellers[{index}]"),
                        verdict: check.verdict,
                        reasons: with_subjects(check.reasons, Some(index)),
                        record_id: check.check_id,
                    })
                }
            });
        try_join_all(checks).await
    }

    /// Lodges the goods and cash with customs; `None` when there is nothing to declare.
    async fn declare_to_customs(
        &self,
        crossing_id: Uuid,
        crossing: &pb::CrossingSubmission,
        deadline: Deadline,
    ) -> Result<Option<customs::Declaration>, Status> {
        if crossing.goods.is_empty() && crossing.cash.is_empty() {
            return Ok(None);
        }
        let message = customs::AssessDeclarationRequest {
            request_id: step_id(crossing_id, "customs"),
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
        let response = call_idempotent(deadline, message, |request| {
            let mut client = self.agencies.customs.clone();
            async move { client.assess_declaration(request).await }
        })
        .await
        .map_err(|status| agency_error("customs", status, crossing_path("crossing")))?;
        Ok(response.declaration)
    }

    /// Sends declared consignments and customs' referrals to the sanitary service.
    async fn assess_consignments(
        &self,
        crossing_id: Uuid,
        crossing: &pb::CrossingSubmission,
        declaration: Option<&customs::Declaration>,
        deadline: Deadline,
    ) -> Result<Option<sanitary::Assessment>, Status> {
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
            return Ok(None);
        }
        let message = sanitary::AssessConsignmentsRequest {
            request_id: step_id(crossing_id, "sanitary"),
            crossing_point: crossing.crossing_point.clone(),
            direction: crossing.direction,
            consignments: crossing.consignments.clone(),
            referrals,
            crossing_date: crossing.crossing_date,
        };
        let response = call_idempotent(deadline, message, |request| {
            let mut client = self.agencies.sanitary.clone();
            async move { client.assess_consignments(request).await }
        })
        .await
        .map_err(|status| agency_error("sanitary inspection", status, crossing_path("crossing")))?;
        Ok(response.assessment)
    }

    /// Consults every agency the crossing concerns and aggregates their findings.
    async fn decide(
        &self,
        crossing_id: Uuid,
        crossing: &pb::CrossingSubmission,
        deadline: Deadline,
    ) -> Result<pb::Decision, Status> {
        let (mut findings, declaration) = tokio::try_join!(
            self.check_travellers(crossing_id, crossing, deadline),
            self.declare_to_customs(crossing_id, crossing, deadline),
        )?;
        let assessment = self
            .assess_consignments(crossing_id, crossing, declaration.as_ref(), deadline)
            .await?;
        let mut amounts = Vec::new();
        let mut customs_conditions = Vec::new();
        if let Some(declaration) = &declaration {
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
        if let Some(assessment) = &assessment {
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
        Ok(decision::decide(findings, amounts, customs_conditions))
    }
}

#[tonic::async_trait]
impl CrossingService for CrossingApi {
    async fn process_crossing(
        &self,
        request: Request<pb::ProcessCrossingRequest>,
    ) -> Result<Response<pb::ProcessCrossingResponse>, Status> {
        let deadline = Deadline::from_request(&request, self.budget);
        let request = request.into_inner();
        let submission = validate_request(&request)?;
        let stored = |crossing| {
            Response::new(pb::ProcessCrossingResponse {
                crossing: Some(crossing),
            })
        };
        let existing = self
            .store
            .by_request_id(&request.request_id)
            .await
            .map_err(|e| error::internal("reading a crossing", e))?;
        if let Some(existing) = existing {
            if existing.submission.as_ref() != Some(submission) {
                return Err(error::status(
                    Code::AlreadyExists,
                    "REQUEST_ID_REUSED",
                    "request_id was already used for a different crossing",
                ));
            }
            return Ok(stored(existing));
        }
        let crossing_id = Uuid::new_v5(&CROSSING_NAMESPACE, request.request_id.as_bytes());
        let decision = self.decide(crossing_id, submission, deadline).await?;
        let now = prost_types::Timestamp::from(std::time::SystemTime::now());
        let crossing = pb::Crossing {
            crossing_id: crossing_id.to_string(),
            request_id: request.request_id.clone(),
            status: pb::CrossingStatus::Decided.into(),
            submission: Some(submission.clone()),
            decision: Some(decision),
            create_time: Some(now),
            update_time: Some(now),
        };
        let crossing = self
            .store
            .insert_once(&crossing)
            .await
            .map_err(|e| error::internal("storing a crossing", e))?;
        tracing::info!(
            crossing_id = %crossing.crossing_id,
            outcome = crossing.decision.as_ref().map_or("", |d| d.outcome().as_str_name()),
            "crossing decided"
        );
        Ok(stored(crossing))
    }

    async fn get_crossing(
        &self,
        request: Request<pb::GetCrossingRequest>,
    ) -> Result<Response<pb::GetCrossingResponse>, Status> {
        let id = validate::record_id("crossing_id", &request.get_ref().crossing_id)?;
        match self.store.by_id(&id.to_string()).await {
            Ok(Some(crossing)) => Ok(Response::new(pb::GetCrossingResponse {
                crossing: Some(crossing),
            })),
            Ok(None) => Err(error::not_found("Crossing", &id.to_string())),
            Err(e) => Err(error::internal("reading a crossing", e)),
        }
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
