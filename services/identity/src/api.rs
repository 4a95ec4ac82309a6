//! The tonic IdentityService: proto in, validated domain values, domain rules, proto out.
//! `decisions` holds the RPCs that decide on a recorded check after the first line.

mod decisions;

use bordermesh_kit::{
    error::{self, FieldViolations},
    idempotency::{IdempotentCall, Start},
    storage::new_record_id,
    validate,
    writes::WriteBatch,
};
use bordermesh_proto::{
    common::v1 as common,
    identity::v1::{self as pb, identity_service_server::IdentityService},
};
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use tonic::{Code, Request, Response, Status};

use crate::{
    domain::{
        check::{self, Category, CheckInput, Direction, StayOutcome, ValidityRules, Verdict},
        ees::{self, CrossingKind},
        mrz::{self, Mrz, MrzFormat},
        sltd::DocumentKey,
        stay::{self, StayAssessment},
        visa::{self, Visa},
        watchlist::{Hit, Person},
    },
    registers::{
        DocumentRegister, WatchlistRegister, alert_from_entry, naive_date, report_status, sex_code,
    },
    store::{CheckRow, CrossingRecord, Store},
};

const CHECK_TRAVELLER: &str = "identity.CheckTraveller";
const REPORT_DOCUMENT: &str = "identity.ReportDocument";
const WITHDRAW_DOCUMENT_REPORT: &str = "identity.WithdrawDocumentReport";
const REGISTER_VISA: &str = "identity.RegisterVisa";
const ADD_WATCHLIST_ENTRY: &str = "identity.AddWatchlistEntry";

/// Most passengers one manifest may carry (the largest aircraft, or a full train).
pub const MAX_MANIFEST_PASSENGERS: usize = 1_000;
/// Longest name, document number or alert id accepted.
const MAX_NAME_BYTES: usize = 200;
const MAX_IDENTIFIER_BYTES: usize = 64;

pub struct IdentityApi {
    store: Store,
    rules: ValidityRules,
    documents: Arc<DocumentRegister>,
    watchlist: Arc<WatchlistRegister>,
}

impl IdentityApi {
    pub fn new(
        store: Store,
        rules: ValidityRules,
        documents: Arc<DocumentRegister>,
        watchlist: Arc<WatchlistRegister>,
    ) -> Self {
        Self {
            store,
            rules,
            documents,
            watchlist,
        }
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
    issue_date: Option<NaiveDate>,
    visa_number: Option<String>,
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
        let issue_date = traveller
            .and_then(|t| t.document.as_ref())
            .and_then(|d| d.issue_date.as_ref())
            .and_then(|date| {
                validate::date("traveller.document.issue_date", Some(date), &mut violations)
            });
        let visa_number = traveller
            .map(|t| t.visa_number.trim())
            .filter(|number| !number.is_empty())
            .and_then(|number| identifier("traveller.visa_number", number, &mut violations));
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
                    issue_date,
                    visa_number,
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

/// EES Art. 1: third-country nationals' entries and exits, and refusals of entry. A referred
/// traveller has not crossed yet: the second line's decision is recorded then. An exit is
/// recorded even when referred (for an overstay), since leaving is not prevented.
fn ees_kind(category: Category, direction: Direction, verdict: Verdict) -> Option<CrossingKind> {
    match (category, direction, verdict) {
        (Category::FreeMovement, _, _) => None,
        (_, Direction::Entry, Verdict::Clear) => Some(CrossingKind::Entry),
        (_, Direction::Entry, Verdict::Refuse) => Some(CrossingKind::Refusal),
        (_, Direction::Entry, Verdict::Refer) => None,
        (_, Direction::Exit, _) => Some(CrossingKind::Exit),
    }
}

impl IdentityApi {
    /// The 90/180-day rule from the traveller's EES records: on entry for the intended stay,
    /// on exit for the stay that ends.
    async fn stay_outcome(
        &self,
        command: &CheckTravellerCommand,
        traveller_key: &str,
    ) -> Result<StayOutcome, Status> {
        let crossings = self
            .store
            .crossings(traveller_key, stay::relevant_since(command.crossing_date))
            .await
            .map_err(|e| error::internal("reading EES records", e))?;
        let mut stays = stay::stays_from_crossings(&crossings);
        let day = command.crossing_date;
        Ok(match command.direction {
            Direction::Entry => {
                let departure = command.intended_departure.unwrap_or(day);
                let planned_overstay_days = stay::planned_overstay(&stays, day, departure);
                stays.push(stay::Stay {
                    entry: day,
                    exit: None,
                });
                StayOutcome {
                    assessment: stay::assess(&stays, day),
                    planned_overstay_days,
                }
            }
            Direction::Exit => {
                if !stays.iter().any(|s| s.exit.is_none()) {
                    stays.push(stay::Stay {
                        entry: day,
                        exit: None,
                    });
                }
                StayOutcome {
                    assessment: stay::assess(&stays, day),
                    planned_overstay_days: 0,
                }
            }
        })
    }
}

fn person_from_mrz(mrz: &Mrz) -> Person {
    Person {
        primary_identifier: mrz.primary_identifier.clone(),
        secondary_identifier: mrz.secondary_identifier.clone(),
        birth_date: mrz.birth_date,
        nationality: Some(mrz.nationality.clone()),
        sex: mrz.sex,
    }
}

fn visa_from_proto(visa: &pb::IssuedVisa) -> Option<Visa> {
    Some(Visa {
        valid_from: naive_date(visa.valid_from.as_ref())?,
        valid_until: naive_date(visa.valid_until.as_ref())?,
        entries_allowed: (visa.entries_allowed > 0).then_some(visa.entries_allowed),
        entries_used: visa.entries_used,
    })
}

fn stay_to_proto(stay: &StayAssessment) -> pb::StayAssessment {
    pb::StayAssessment {
        days_used: stay.days_used,
        days_remaining: stay.days_remaining,
        window_start: Some(validate::date_to_proto(stay.window_start)),
        latest_exit: stay.latest_exit.map(validate::date_to_proto),
        overstay_days: stay.overstay_days,
    }
}

fn hit_to_proto(hit: &Hit) -> pb::WatchlistHit {
    pb::WatchlistHit {
        alert_id: hit.alert_id.clone(),
        score: format!("{:.3}", hit.score),
        reason: hit.reason.clone(),
        fields: hit
            .fields
            .iter()
            .map(|field| pb::FieldMatch {
                field: field.field.to_owned(),
                score: format!("{:.3}", field.score),
                explanation: field.explanation.clone(),
            })
            .collect(),
    }
}

/// A document number, visa number or alert id: A-Z, 0-9 and `<` (ICAO 9303 Part 3, 4.3),
/// plus `-` for alert ids of national systems.
fn identifier(field: &str, value: &str, violations: &mut FieldViolations) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        violations.add(field, "is required");
        None
    } else if value.len() > MAX_IDENTIFIER_BYTES {
        violations.add(
            field,
            format!("must be at most {MAX_IDENTIFIER_BYTES} bytes"),
        );
        None
    } else if !value
        .bytes()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'<' || c == b'-')
    {
        violations.add(field, "only A-Z, 0-9, < and - are allowed");
        None
    } else {
        Some(value.to_owned())
    }
}

/// A document code as in a zone: one letter, then a letter or `<`.
fn document_code(field: &str, value: &str, violations: &mut FieldViolations) -> Option<String> {
    let bytes = value.as_bytes();
    let valid = matches!(bytes.len(), 1 | 2)
        && bytes[0].is_ascii_uppercase()
        && bytes[1..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || *c == b'<');
    if valid {
        Some(value.to_owned())
    } else {
        violations.add(
            field,
            "must be an ICAO 9303 document code such as P, PO, I or ID",
        );
        None
    }
}

fn document_key(
    prefix: &str,
    issuing_state: &str,
    code: &str,
    number: &str,
    violations: &mut FieldViolations,
) -> Option<DocumentKey> {
    let state = validate::country(
        &validate::path(prefix, "issuing_state"),
        issuing_state,
        violations,
    );
    let code = document_code(&validate::path(prefix, "document_code"), code, violations);
    let number = identifier(
        &validate::path(prefix, "document_number"),
        number,
        violations,
    );
    Some(DocumentKey::new(&state?, &code?, &number?))
}

/// A name in any script: present, short, and with at least one letter.
fn name(field: &str, value: &str, required: bool, violations: &mut FieldViolations) {
    if value.len() > MAX_NAME_BYTES {
        violations.add(field, format!("must be at most {MAX_NAME_BYTES} bytes"));
    } else if required && !value.chars().any(char::is_alphabetic) {
        violations.add(field, "must contain a letter");
    }
}

fn optional_sex(field: &str, value: &str, violations: &mut FieldViolations) {
    if !value.is_empty() && sex_code(value).is_none() {
        violations.add(field, "must be F, M, X or empty");
    }
}

fn person_from_proto(
    prefix: &str,
    person: &pb::PersonData,
    violations: &mut FieldViolations,
) -> Person {
    name(
        &validate::path(prefix, "primary_identifier"),
        &person.primary_identifier,
        true,
        violations,
    );
    name(
        &validate::path(prefix, "secondary_identifier"),
        &person.secondary_identifier,
        false,
        violations,
    );
    let birth_date = person.birth_date.as_ref().and_then(|date| {
        validate::date(
            &validate::path(prefix, "birth_date"),
            Some(date),
            violations,
        )
    });
    let nationality = (!person.nationality.is_empty())
        .then(|| {
            validate::country(
                &validate::path(prefix, "nationality"),
                &person.nationality,
                violations,
            )
        })
        .flatten();
    optional_sex(&validate::path(prefix, "sex"), &person.sex, violations);
    Person {
        primary_identifier: person.primary_identifier.clone(),
        secondary_identifier: person.secondary_identifier.clone(),
        birth_date,
        nationality,
        sex: sex_code(&person.sex),
    }
}

/// A person as screening reads them, for callers that built the data themselves.
pub fn person_for_screening(person: &pb::PersonData) -> Person {
    person_from_proto("person", person, &mut FieldViolations::new())
}

/// The person's document, when the passenger data names one.
fn person_document(
    prefix: &str,
    person: &pb::PersonData,
    violations: &mut FieldViolations,
) -> Option<DocumentKey> {
    if person.document_number.is_empty() {
        return None;
    }
    let code = if person.document_code.is_empty() {
        "P"
    } else {
        &person.document_code
    };
    document_key(
        prefix,
        &person.document_issuing_state,
        code,
        &person.document_number,
        violations,
    )
}

fn watchlist_entry(
    entry: Option<&pb::WatchlistEntry>,
    violations: &mut FieldViolations,
) -> Option<pb::WatchlistEntry> {
    let Some(entry) = entry else {
        violations.add("entry", "is required");
        return None;
    };
    identifier("entry.alert_id", &entry.alert_id, violations);
    name(
        "entry.primary_identifier",
        &entry.primary_identifier,
        true,
        violations,
    );
    name(
        "entry.secondary_identifier",
        &entry.secondary_identifier,
        false,
        violations,
    );
    if entry.reason.len() > validate::MAX_TEXT_FIELD {
        violations.add("entry.reason", "is too long");
    }
    match pb::BirthDatePrecision::try_from(entry.birth_date_precision) {
        Ok(pb::BirthDatePrecision::Exact) => {
            validate::date("entry.birth_date", entry.birth_date.as_ref(), violations);
        }
        Ok(pb::BirthDatePrecision::Year) => {
            if !entry
                .birth_date
                .as_ref()
                .is_some_and(|d| (1800..=2200).contains(&d.year))
            {
                violations.add(
                    "entry.birth_date.year",
                    "is required and must be a plausible year",
                );
            }
        }
        Ok(_) => {}
        Err(_) => violations.add("entry.birth_date_precision", "is not a known precision"),
    }
    if !entry.nationality.is_empty() {
        validate::country("entry.nationality", &entry.nationality, violations);
    }
    optional_sex("entry.sex", &entry.sex, violations);
    Some(entry.clone())
}

fn report_from_proto(
    report: Option<&pb::DocumentReport>,
    violations: &mut FieldViolations,
) -> Option<(DocumentKey, pb::DocumentReport)> {
    let Some(report) = report else {
        violations.add("report", "is required");
        return None;
    };
    let key = document_key(
        "report",
        &report.issuing_state,
        &report.document_code,
        &report.document_number,
        violations,
    );
    validate::required_enum::<pb::DocumentReportStatus>("report.status", report.status, violations);
    validate::required_enum::<pb::DocumentReportSource>("report.source", report.source, violations);
    if let Some(date) = &report.reported_on {
        validate::date("report.reported_on", Some(date), violations);
    }
    let key = key?;
    let normalised = pb::DocumentReport {
        issuing_state: key.issuing_state.clone(),
        document_number: key.document_number.clone(),
        ..report.clone()
    };
    Some((key, normalised))
}

fn visa_from_request(
    visa: Option<&pb::IssuedVisa>,
    violations: &mut FieldViolations,
) -> Option<pb::IssuedVisa> {
    let Some(visa) = visa else {
        violations.add("visa", "is required");
        return None;
    };
    identifier("visa.visa_number", &visa.visa_number, violations);
    validate::country("visa.issuing_state", &visa.issuing_state, violations);
    let from = validate::date("visa.valid_from", visa.valid_from.as_ref(), violations);
    let until = validate::date("visa.valid_until", visa.valid_until.as_ref(), violations);
    if let (Some(from), Some(until)) = (from, until)
        && until < from
    {
        violations.add("visa.valid_until", "must not be before valid_from");
    }
    if visa.entries_used != 0 {
        violations.add("visa.entries_used", "must be 0 for a newly issued visa");
    }
    Some(visa.clone())
}

fn already_exists(what: &str) -> Status {
    error::status(
        Code::AlreadyExists,
        "ALREADY_EXISTS",
        format!("{what} is already recorded"),
    )
}

#[tonic::async_trait]
impl IdentityService for IdentityApi {
    async fn check_traveller(
        &self,
        request: Request<pb::CheckTravellerRequest>,
    ) -> Result<Response<pb::CheckTravellerResponse>, Status> {
        let request = request.into_inner();
        let command = CheckTravellerCommand::try_from(&request)?;
        // A repeat is found when its idempotency record meets the first one's at commit, and
        // rolls back: a first call, by far the most common, saves a database round trip.
        let call = IdempotentCall::new(CHECK_TRAVELLER, &request.request_id, &request);
        let category = check::category(&command.mrz, command.declared_category);
        let key = DocumentKey::new(
            &command.mrz.issuing_state,
            &command.mrz.document_code,
            &command.mrz.document_number,
        );
        let report = self
            .documents
            .lookup(&key)
            .await
            .map_err(|e| error::internal("looking up a document report", e))?;
        let watchlist_hits = self.watchlist.screen(&person_from_mrz(&command.mrz));
        let traveller_key = format!("{}/{}", key.issuing_state, key.document_number);
        let stay = match category {
            Category::ThirdCountry => Some(self.stay_outcome(&command, &traveller_key).await?),
            Category::FreeMovement => None,
        };
        let mut presented_visa = None;
        if let (Some(number), Direction::Entry) = (&command.visa_number, command.direction) {
            presented_visa = self
                .store
                .find_visa(number)
                .await
                .map_err(|e| error::internal("reading a visa", e))?;
        }
        let visa_check = command.visa_number.as_ref().and_then(|_| {
            (command.direction == Direction::Entry).then(|| {
                visa::check_visa(
                    presented_visa.as_ref().and_then(visa_from_proto).as_ref(),
                    command.crossing_date,
                    command.intended_departure.unwrap_or(command.crossing_date),
                )
            })
        });
        let result = check::check(
            &CheckInput {
                mrz: &command.mrz,
                declared_category: command.declared_category,
                direction: command.direction,
                crossing_date: command.crossing_date,
                intended_departure: command.intended_departure,
                issue_date: command.issue_date,
                reported: report.as_ref().map(report_status),
                stay,
                visa: visa_check,
                watchlist_hits: &watchlist_hits,
            },
            &self.rules,
        );
        let record = pb::TravellerCheck {
            check_id: new_record_id().to_string(),
            reference: command.reference,
            verdict: verdict_to_proto(result.verdict).into(),
            reasons: result
                .findings
                .iter()
                .map(|f| reason_to_proto(f, f.subject))
                .collect(),
            document: Some(document_to_proto(&command.mrz)),
            category: category_to_proto(result.category).into(),
            stay: stay.map(|outcome| stay_to_proto(&outcome.assessment)),
            watchlist_hits: watchlist_hits.iter().map(hit_to_proto).collect(),
            second_line: None,
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
            crossing_date: command.crossing_date,
            visa_number: command.visa_number.as_deref(),
        };
        let mut writes = WriteBatch::new();
        writes.add(Store::check_insert(&row, &record));
        if let Some(kind) = ees_kind(category, command.direction, result.verdict) {
            let refusal_codes: String = result
                .findings
                .iter()
                .filter_map(|f| f.refusal_code)
                .collect();
            let overstayer = stay.is_some_and(|s| s.assessment.overstay_days > 0);
            let crossing = CrossingRecord {
                traveller_key: &traveller_key,
                kind,
                crossed_on: command.crossing_date,
                crossing_point: &command.crossing_point,
                nationality: &command.mrz.nationality,
                refusal_codes: &refusal_codes,
                keep_until: ees::keep_until(
                    kind,
                    command.crossing_date,
                    overstayer,
                    stay.and_then(|s| s.assessment.latest_exit),
                ),
                check_id: Some(&record.check_id),
                visa_number: match (kind, &presented_visa) {
                    (CrossingKind::Entry, Some(visa)) => Some(&visa.visa_number),
                    _ => None,
                },
            };
            for statement in Store::crossing_inserts(&crossing) {
                writes.add(statement);
            }
            if let (CrossingKind::Entry, Some(mut visa)) = (kind, presented_visa) {
                visa.entries_used = visa.entries_used.saturating_add(1);
                writes.add(Store::visa_update(&visa));
            }
        }
        let response = pb::CheckTravellerResponse {
            check: Some(record),
        };
        let response = call
            .commit_writes(self.store.writer(), writes, response)
            .await?;
        if let Some(check) = &response.check {
            tracing::info!(check_id = %check.check_id, verdict = check.verdict().as_str_name(), "traveller checked");
        }
        Ok(Response::new(response))
    }

    async fn get_traveller_check(
        &self,
        request: Request<pb::GetTravellerCheckRequest>,
    ) -> Result<Response<pb::GetTravellerCheckResponse>, Status> {
        let id = validate::record_id("check_id", &request.get_ref().check_id)?;
        let check = error::found(
            self.store.get_check(id).await,
            "TravellerCheck",
            &id.to_string(),
            "reading a traveller check",
        )?;
        Ok(Response::new(pb::GetTravellerCheckResponse {
            check: Some(check),
        }))
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

    async fn report_document(
        &self,
        request: Request<pb::ReportDocumentRequest>,
    ) -> Result<Response<pb::ReportDocumentResponse>, Status> {
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let report = report_from_proto(request.report.as_ref(), &mut violations);
        let (key, report) = violations
            .into_result(report)?
            .ok_or_else(|| error::internal("reading a report", "no report and no violation"))?;
        let call = IdempotentCall::new(REPORT_DOCUMENT, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(Response::new(saved)),
            Start::Fresh(tx) => tx,
        };
        self.store
            .upsert_reports(&mut tx, &[(key.clone(), report.clone())])
            .await
            .map_err(|e| error::internal("recording a document report", e))?;
        let response = call
            .commit(
                self.store.db(),
                tx,
                pb::ReportDocumentResponse {
                    report: Some(report),
                },
            )
            .await?;
        self.documents.added(&key);
        Ok(Response::new(response))
    }

    async fn withdraw_document_report(
        &self,
        request: Request<pb::WithdrawDocumentReportRequest>,
    ) -> Result<Response<pb::WithdrawDocumentReportResponse>, Status> {
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let key = document_key(
            "",
            &request.issuing_state,
            &request.document_code,
            &request.document_number,
            &mut violations,
        );
        let key = violations
            .into_result(key)?
            .ok_or_else(|| error::internal("reading a document key", "no key and no violation"))?;
        let call = IdempotentCall::new(WITHDRAW_DOCUMENT_REPORT, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(Response::new(saved)),
            Start::Fresh(tx) => tx,
        };
        let withdrawn = self
            .store
            .withdraw_report(&mut tx, &key)
            .await
            .map_err(|e| error::internal("withdrawing a document report", e))?;
        // The filter keeps the fingerprint until its next rebuild; the exact store now says no.
        let response = call
            .commit(
                self.store.db(),
                tx,
                pb::WithdrawDocumentReportResponse { withdrawn },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn lookup_document(
        &self,
        request: Request<pb::LookupDocumentRequest>,
    ) -> Result<Response<pb::LookupDocumentResponse>, Status> {
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let key = document_key(
            "",
            &request.issuing_state,
            &request.document_code,
            &request.document_number,
            &mut violations,
        );
        let key = violations
            .into_result(key)?
            .ok_or_else(|| error::internal("reading a document key", "no key and no violation"))?;
        let report = self
            .documents
            .lookup(&key)
            .await
            .map_err(|e| error::internal("looking up a document report", e))?;
        Ok(Response::new(pb::LookupDocumentResponse { report }))
    }

    async fn register_visa(
        &self,
        request: Request<pb::RegisterVisaRequest>,
    ) -> Result<Response<pb::RegisterVisaResponse>, Status> {
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let visa = visa_from_request(request.visa.as_ref(), &mut violations);
        let visa = violations
            .into_result(visa)?
            .ok_or_else(|| error::internal("reading a visa", "no visa and no violation"))?;
        let call = IdempotentCall::new(REGISTER_VISA, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(Response::new(saved)),
            Start::Fresh(tx) => tx,
        };
        let inserted = self
            .store
            .insert_visa(&mut tx, &visa)
            .await
            .map_err(|e| error::internal("recording a visa", e))?;
        if !inserted {
            return Err(already_exists("a visa with this number"));
        }
        let response = call
            .commit(
                self.store.db(),
                tx,
                pb::RegisterVisaResponse { visa: Some(visa) },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn add_watchlist_entry(
        &self,
        request: Request<pb::AddWatchlistEntryRequest>,
    ) -> Result<Response<pb::AddWatchlistEntryResponse>, Status> {
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let entry = watchlist_entry(request.entry.as_ref(), &mut violations);
        let entry = violations
            .into_result(entry)?
            .ok_or_else(|| error::internal("reading an alert", "no alert and no violation"))?;
        let alert = alert_from_entry(&entry)
            .ok_or_else(|| error::internal("reading an alert", "validated alert unreadable"))?;
        let call = IdempotentCall::new(ADD_WATCHLIST_ENTRY, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(Response::new(saved)),
            Start::Fresh(tx) => tx,
        };
        let inserted = self
            .store
            .insert_alerts(&mut tx, std::slice::from_ref(&entry))
            .await
            .map_err(|e| error::internal("recording an alert", e))?;
        if inserted == 0 {
            return Err(already_exists("an alert with this id"));
        }
        let response = call
            .commit(
                self.store.db(),
                tx,
                pb::AddWatchlistEntryResponse { entry: Some(entry) },
            )
            .await?;
        self.watchlist.insert(alert);
        Ok(Response::new(response))
    }

    async fn screen_traveller(
        &self,
        request: Request<pb::ScreenTravellerRequest>,
    ) -> Result<Response<pb::ScreenTravellerResponse>, Status> {
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let Some(person) = request.person.as_ref() else {
            violations.add("person", "is required");
            return Err(violations.into_status());
        };
        let screened = person_from_proto("person", person, &mut violations);
        let document = person_document("person", person, &mut violations);
        violations.into_result(())?;
        let hits = self.watchlist.screen(&screened);
        let document_report = match document {
            Some(key) => self
                .documents
                .lookup(&key)
                .await
                .map_err(|e| error::internal("looking up a document report", e))?,
            None => None,
        };
        Ok(Response::new(pb::ScreenTravellerResponse {
            hits: hits.iter().map(hit_to_proto).collect(),
            document_report,
        }))
    }

    async fn screen_manifest(
        &self,
        request: Request<pb::ScreenManifestRequest>,
    ) -> Result<Response<pb::ScreenManifestResponse>, Status> {
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        if request.transport_reference.len() > MAX_NAME_BYTES {
            violations.add("transport_reference", "is too long");
        }
        if request.passengers.len() > MAX_MANIFEST_PASSENGERS {
            violations.add(
                "passengers",
                format!("at most {MAX_MANIFEST_PASSENGERS} passengers per manifest"),
            );
            return Err(violations.into_status());
        }
        let mut persons = Vec::with_capacity(request.passengers.len());
        let mut documents = Vec::with_capacity(request.passengers.len());
        for (index, passenger) in request.passengers.iter().enumerate() {
            let prefix = validate::indexed("passengers", index);
            persons.push(person_from_proto(&prefix, passenger, &mut violations));
            documents.push(person_document(&prefix, passenger, &mut violations));
        }
        violations.into_result(())?;
        let watchlist = Arc::clone(&self.watchlist);
        let screening = tokio::task::spawn_blocking(move || watchlist.screen_all(&persons));
        // The documents are looked up while the watchlist is screened, not after it.
        let mut reports = Vec::with_capacity(documents.len());
        for document in documents {
            reports.push(match document {
                Some(key) => self
                    .documents
                    .lookup(&key)
                    .await
                    .map_err(|e| error::internal("looking up a document report", e))?,
                None => None,
            });
        }
        let hits = screening
            .await
            .map_err(|e| error::internal("screening a manifest", e))?
            .ok_or_else(|| error::internal("screening a manifest", "a screening worker failed"))?;
        let mut flagged = Vec::new();
        for (index, (hits, document_report)) in hits.into_iter().zip(reports).enumerate() {
            if !hits.is_empty() || document_report.is_some() {
                flagged.push(pb::PassengerScreening {
                    index: index as u32,
                    hits: hits.iter().map(hit_to_proto).collect(),
                    document_report,
                });
            }
        }
        tracing::info!(
            passengers = request.passengers.len(),
            flagged = flagged.len(),
            "manifest screened"
        );
        Ok(Response::new(pb::ScreenManifestResponse {
            flagged,
            screened: request.passengers.len() as u32,
        }))
    }

    async fn assess_stay(
        &self,
        request: Request<pb::AssessStayRequest>,
    ) -> Result<Response<pb::AssessStayResponse>, Status> {
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let state = validate::country("issuing_state", &request.issuing_state, &mut violations);
        let number = identifier("document_number", &request.document_number, &mut violations);
        let on = match &request.on {
            Some(date) => validate::date("on", Some(date), &mut violations),
            None => Some(Utc::now().date_naive()),
        };
        let (state, number, on) = match (state, number, on) {
            (Some(state), Some(number), Some(on)) if violations.is_empty() => (state, number, on),
            _ => return Err(violations.into_status()),
        };
        let key = DocumentKey::new(&state, "P", &number);
        let crossings = self
            .store
            .crossings(
                &format!("{}/{}", key.issuing_state, key.document_number),
                stay::relevant_since(on),
            )
            .await
            .map_err(|e| error::internal("reading EES records", e))?;
        let stays = stay::stays_from_crossings(&crossings);
        Ok(Response::new(pb::AssessStayResponse {
            stay: Some(stay_to_proto(&stay::assess(&stays, on))),
        }))
    }

    async fn refuse_entry(
        &self,
        request: Request<pb::RefuseEntryRequest>,
    ) -> Result<Response<pb::RefuseEntryResponse>, Status> {
        IdentityApi::refuse_entry(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn withdraw_exit(
        &self,
        request: Request<pb::WithdrawExitRequest>,
    ) -> Result<Response<pb::WithdrawExitResponse>, Status> {
        IdentityApi::withdraw_exit(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn record_interview_outcome(
        &self,
        request: Request<pb::RecordInterviewOutcomeRequest>,
    ) -> Result<Response<pb::RecordInterviewOutcomeResponse>, Status> {
        IdentityApi::record_interview_outcome(self, request.into_inner())
            .await
            .map(Response::new)
    }
}
