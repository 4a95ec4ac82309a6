//! The tonic IdentityService: proto in, validated domain values, domain rules, proto out.

use bordermesh_kit::{
    error::{self, FieldViolations},
    idempotency::IdempotentCall,
    validate,
};
use bordermesh_proto::{
    common::v1 as common,
    identity::v1::{self as pb, identity_service_server::IdentityService},
};
use chrono::{NaiveDate, Utc};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{
        check::{self, Category, CheckInput, Direction, ValidityRules, Verdict},
        mrz::{self, Mrz, MrzFormat},
    },
    store::{CheckRow, Store},
};

const CHECK_TRAVELLER: &str = "identity.CheckTraveller";

pub struct IdentityApi {
    store: Store,
    rules: ValidityRules,
}

impl IdentityApi {
    pub fn new(store: Store, rules: ValidityRules) -> Self {
        Self { store, rules }
    }
}

/// A CheckTravellerRequest whose every field was read and found usable.
struct CheckTravellerCommand {
    crossing_point: String,
    direction: Direction,
    crossing_date: NaiveDate,
    reference: String,
    mrz: Mrz,
    declared_category: Option<Category>,
    intended_departure: Option<NaiveDate>,
}

impl TryFrom<&pb::CheckTravellerRequest> for CheckTravellerCommand {
    type Error = Status;

    fn try_from(request: &pb::CheckTravellerRequest) -> Result<Self, Status> {
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let crossing_point = crossing_point(request.crossing_point.as_ref(), &mut violations);
        let direction = validate::required_enum::<common::Direction>(
            "direction",
            request.direction,
            &mut violations,
        )
        .map(direction);
        let crossing_date = match &request.crossing_date {
            Some(date) => validate::date("crossing_date", Some(date), &mut violations),
            None => Some(Utc::now().date_naive()),
        };
        let traveller = request.traveller.as_ref();
        if traveller.is_none() {
            violations.add("traveller", "is required");
        }
        let mrz = traveller.and_then(|traveller| {
            let today = crossing_date.unwrap_or_else(|| Utc::now().date_naive());
            read_mrz(
                "traveller.document.mrz",
                traveller.document.as_ref().map_or("", |d| &d.mrz),
                today,
                &mut violations,
            )
        });
        let declared_category =
            traveller.and_then(|t| match pb::TravellerCategory::try_from(t.category) {
                Ok(pb::TravellerCategory::EuEeaCh) => Some(Category::FreeMovement),
                Ok(pb::TravellerCategory::ThirdCountry) => Some(Category::ThirdCountry),
                Ok(pb::TravellerCategory::Unspecified) => None,
                Err(_) => {
                    violations.add("traveller.category", "is not a known category");
                    None
                }
            });
        let intended_departure = traveller
            .and_then(|t| t.intended_departure.as_ref())
            .and_then(|date| {
                validate::date("traveller.intended_departure", Some(date), &mut violations)
            });
        if let Some(reference) = traveller.map(|t| &t.reference)
            && reference.len() > validate::MAX_TEXT_FIELD
        {
            violations.add("traveller.reference", "is too long");
        }
        match (crossing_point, direction, crossing_date, mrz) {
            (Some(crossing_point), Some(direction), Some(crossing_date), Some(mrz))
                if violations.is_empty() =>
            {
                Ok(Self {
                    crossing_point,
                    direction,
                    crossing_date,
                    reference: traveller.map(|t| t.reference.clone()).unwrap_or_default(),
                    mrz,
                    declared_category,
                    intended_departure,
                })
            }
            _ => Err(violations.into_status()),
        }
    }
}

fn crossing_point(
    value: Option<&common::CrossingPoint>,
    violations: &mut FieldViolations,
) -> Option<String> {
    let Some(point) = value else {
        violations.add("crossing_point", "is required");
        return None;
    };
    let code = validate::required_text("crossing_point.code", &point.code, violations);
    validate::country("crossing_point.country", &point.country, violations);
    code.map(str::to_owned)
}

fn direction(value: common::Direction) -> Direction {
    match value {
        common::Direction::Exit => Direction::Exit,
        _ => Direction::Entry,
    }
}

fn read_mrz(
    field: &str,
    text: &str,
    today: NaiveDate,
    violations: &mut FieldViolations,
) -> Option<Mrz> {
    match mrz::parse(text, today) {
        Ok(mrz) => Some(mrz),
        Err(malformed) => {
            violations.add(field, malformed.to_string());
            None
        }
    }
}

fn verdict_to_proto(verdict: Verdict) -> common::Verdict {
    match verdict {
        Verdict::Clear => common::Verdict::Clear,
        Verdict::Refer => common::Verdict::Refer,
        Verdict::Refuse => common::Verdict::Refuse,
    }
}

fn format_to_proto(format: MrzFormat) -> pb::MrzFormat {
    match format {
        MrzFormat::Td1 => pb::MrzFormat::Td1,
        MrzFormat::Td2 => pb::MrzFormat::Td2,
        MrzFormat::Td3 => pb::MrzFormat::Td3,
        MrzFormat::MrvA => pb::MrzFormat::MrvA,
        MrzFormat::MrvB => pb::MrzFormat::MrvB,
    }
}

fn document_to_proto(mrz: &Mrz) -> pb::DocumentData {
    pb::DocumentData {
        format: format_to_proto(mrz.format).into(),
        document_code: mrz.document_code.clone(),
        issuing_state: mrz.issuing_state.clone(),
        document_number: mrz.document_number.clone(),
        primary_identifier: mrz.primary_identifier.clone(),
        secondary_identifier: mrz.secondary_identifier.clone(),
        nationality: mrz.nationality.clone(),
        birth_date: mrz.birth_date.map(validate::date_to_proto),
        sex: mrz.sex.map_or("<", |s| s.code()).to_owned(),
        expiry_date: mrz.expiry_date.map(validate::date_to_proto),
        optional_data: mrz.optional_data.clone(),
        check_digits: mrz
            .check_digits
            .iter()
            .map(|d| pb::CheckDigit {
                field: d.field.to_owned(),
                printed: d.printed.to_string(),
                computed: d.computed.to_string(),
                valid: d.is_valid(),
            })
            .collect(),
    }
}

fn reason_to_proto(finding: &check::Finding, subject: &str) -> common::Reason {
    common::Reason {
        agency: common::Agency::BorderPolice.into(),
        code: finding.code.to_owned(),
        rule_id: finding.rule_id.to_owned(),
        message: finding.message.clone(),
        subject: subject.to_owned(),
        refusal_code: finding.refusal_code.map(String::from).unwrap_or_default(),
    }
}

fn category_to_proto(category: Category) -> pb::TravellerCategory {
    match category {
        Category::FreeMovement => pb::TravellerCategory::EuEeaCh,
        Category::ThirdCountry => pb::TravellerCategory::ThirdCountry,
    }
}

#[tonic::async_trait]
impl IdentityService for IdentityApi {
    async fn check_traveller(
        &self,
        request: Request<pb::CheckTravellerRequest>,
    ) -> Result<Response<pb::CheckTravellerResponse>, Status> {
        let request = request.into_inner();
        let command = CheckTravellerCommand::try_from(&request)?;
        let call = IdempotentCall::new(CHECK_TRAVELLER, &request.request_id, &request);
        if let Some(saved) = call.replay(self.store.pool()).await? {
            return Ok(Response::new(saved));
        }
        let result = check::check(
            &CheckInput {
                mrz: &command.mrz,
                declared_category: command.declared_category,
                direction: command.direction,
                crossing_date: command.crossing_date,
                intended_departure: command.intended_departure,
            },
            &self.rules,
        );
        let record = pb::TravellerCheck {
            check_id: Uuid::new_v4().to_string(),
            reference: command.reference,
            verdict: verdict_to_proto(result.verdict).into(),
            reasons: result
                .findings
                .iter()
                .map(|f| reason_to_proto(f, "traveller.document.mrz"))
                .collect(),
            document: Some(document_to_proto(&command.mrz)),
            category: category_to_proto(result.category).into(),
        };
        let verdict = verdict_to_proto(result.verdict);
        let row = CheckRow {
            crossing_point: &command.crossing_point,
            direction: match command.direction {
                Direction::Entry => "ENTRY",
                Direction::Exit => "EXIT",
            },
            verdict: verdict.as_str_name(),
            nationality: &command.mrz.nationality,
        };
        let mut tx = self
            .store
            .pool()
            .begin()
            .await
            .map_err(|e| error::internal("starting a transaction", e))?;
        self.store
            .insert_check(&mut tx, &row, &record)
            .await
            .map_err(|e| error::internal("recording a traveller check", e))?;
        tracing::info!(check_id = %record.check_id, verdict = row.verdict, "traveller checked");
        let response = pb::CheckTravellerResponse {
            check: Some(record),
        };
        let response = call.commit(self.store.pool(), tx, response).await?;
        Ok(Response::new(response))
    }

    async fn get_traveller_check(
        &self,
        request: Request<pb::GetTravellerCheckRequest>,
    ) -> Result<Response<pb::GetTravellerCheckResponse>, Status> {
        let id = validate::record_id("check_id", &request.get_ref().check_id)?;
        match self.store.get_check(id).await {
            Ok(Some(check)) => Ok(Response::new(pb::GetTravellerCheckResponse {
                check: Some(check),
            })),
            Ok(None) => Err(error::not_found("TravellerCheck", &id.to_string())),
            Err(e) => Err(error::internal("reading a traveller check", e)),
        }
    }

    async fn parse_mrz(
        &self,
        request: Request<pb::ParseMrzRequest>,
    ) -> Result<Response<pb::ParseMrzResponse>, Status> {
        let mut violations = FieldViolations::new();
        let today = Utc::now().date_naive();
        let mrz = read_mrz("mrz", &request.get_ref().mrz, today, &mut violations);
        let mrz = violations
            .into_result(mrz)?
            .ok_or_else(|| error::internal("parsing an MRZ", "no zone and no violation"))?;
        let problems = mrz
            .findings
            .iter()
            .map(check::zone_finding)
            .map(|f| reason_to_proto(&f, "mrz"))
            .collect();
        Ok(Response::new(pb::ParseMrzResponse {
            document: Some(document_to_proto(&mrz)),
            problems,
        }))
    }
}
