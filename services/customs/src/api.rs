//! The tonic CustomsService: proto in, validated domain values, domain rules, proto out.
//! `decisions` holds the RPCs that decide on a lodged declaration afterwards.

mod decisions;

use std::sync::{Arc, RwLock};

use bordermesh_kit::{
    error::{self, FieldViolations},
    idempotency::IdempotentCall,
    storage::new_record_id,
    validate::{self, Amount, Child, FieldPath, Indexed},
    writes::WriteBatch,
};
use bordermesh_proto::{
    common::v1 as common,
    customs::v1::{self as pb, customs_service_server::CustomsService},
};
use chrono::{Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{
        Finding, Problem, Procedure, Transport, Verdict,
        assessment::{self, Assessment, Declaration, GoodsItem, ReferralKind, Rules},
        cash::{CashCarried, CashKind},
        commodity::{CommodityCode, Nomenclature},
        mrn,
        referral::ReferralTable,
        risk::{Lane, RiskProfiles},
        tariff::Tariff,
        trader::{Eori, Trader},
        transit::{self, CustomsOffice},
    },
    store::{FiuContext, Store},
};

const ASSESS_DECLARATION: &str = "customs.AssessDeclaration";
const OPEN_TRANSIT: &str = "customs.OpenTransit";
const DISCHARGE_TRANSIT: &str = "customs.DischargeTransit";

/// Default and largest page of ListOverdueTransits.
const DEFAULT_PAGE_SIZE: i32 = 100;
const MAX_PAGE_SIZE: i32 = 1000;

/// Everything a declaration is judged by, swapped whole when the files are reloaded.
pub struct Rulebook {
    pub tariff: Tariff,
    pub nomenclature: Option<Nomenclature>,
    pub sanitary: ReferralTable,
    pub licences: ReferralTable,
    pub risk: RiskProfiles,
}

impl Rulebook {
    fn rules(&self) -> Rules<'_> {
        Rules {
            tariff: &self.tariff,
            sanitary: &self.sanitary,
            licences: &self.licences,
            risk: &self.risk,
        }
    }
}

/// Shared handle on the rules in force, which `serve` replaces on reload.
#[derive(Clone)]
pub struct RulesInForce(Arc<RwLock<Arc<Rulebook>>>);

impl RulesInForce {
    pub fn new(rulebook: Rulebook) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(rulebook))))
    }

    pub fn current(&self) -> Arc<Rulebook> {
        // A poisoned lock still holds a complete rulebook: swaps replace the Arc in one step.
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn replace(&self, rulebook: Rulebook) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(rulebook);
    }
}

pub struct CustomsApi {
    store: Store,
    rules: RulesInForce,
}

/// The seed of random selection, derived from the request id so that a repeat, and an appeal,
/// draw the same lane.
pub fn selection_seed(request_id: Uuid) -> u64 {
    let (high, low) = request_id.as_u64_pair();
    high ^ low
}

/// A declaration read from a request, with what the store needs besides.
struct Command {
    request_id: Uuid,
    country: String,
    declaration: Declaration,
}

fn problems_into(problems: Vec<Problem>, violations: &mut FieldViolations) {
    for problem in problems {
        violations.add(problem.field, problem.message);
    }
}

fn read_trader(
    field: &str,
    trader: Option<&pb::Trader>,
    required: bool,
    violations: &mut FieldViolations,
) -> Option<Trader> {
    let Some(trader) = trader.filter(|t| !t.eori.is_empty()) else {
        if required {
            violations.add(format!("{field}.eori"), "is required for this procedure");
        }
        return None;
    };
    match Eori::parse(&trader.eori) {
        Ok(eori) => Some(Trader {
            eori,
            authorised_economic_operator: trader.authorised_economic_operator,
        }),
        Err(problem) => {
            violations.add(format!("{field}.eori"), problem);
            None
        }
    }
}

fn read_transport(value: i32, violations: &mut FieldViolations) -> Transport {
    match common::TransportMode::try_from(value) {
        Ok(common::TransportMode::Unspecified) => Transport::Unspecified,
        Ok(common::TransportMode::Road) => Transport::Road,
        Ok(common::TransportMode::Rail) => Transport::Rail,
        Ok(common::TransportMode::Air) => Transport::Air,
        Ok(common::TransportMode::Sea) => Transport::Sea,
        Ok(common::TransportMode::InlandWaterway) => Transport::InlandWaterway,
        Ok(common::TransportMode::Pedestrian) => Transport::Pedestrian,
        Err(_) => {
            violations.add("transport_mode", format!("{value} is not a known value"));
            Transport::Unspecified
        }
    }
}

fn read_procedure(
    request: &pb::AssessDeclarationRequest,
    violations: &mut FieldViolations,
) -> Procedure {
    let named = if request.items.is_empty() {
        pb::Procedure::try_from(request.procedure).ok()
    } else {
        validate::required_enum::<pb::Procedure>("procedure", request.procedure, violations)
    };
    match named {
        Some(pb::Procedure::Import) => Procedure::Import,
        Some(pb::Procedure::Export) => Procedure::Export,
        Some(pb::Procedure::Transit) => Procedure::Transit,
        Some(pb::Procedure::PersonalLuggage) => Procedure::PersonalLuggage,
        Some(pb::Procedure::Unspecified) | None => Procedure::Unspecified,
    }
}

/// A unit code of UN/ECE Recommendation 20: two or three capital letters or digits.
fn read_unit(
    field: impl FieldPath,
    unit: &str,
    violations: &mut FieldViolations,
) -> Option<String> {
    let valid = (2..=3).contains(&unit.len())
        && unit
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if valid {
        Some(unit.to_owned())
    } else {
        violations.add(
            field,
            "must be a UN/ECE Recommendation 20 unit code such as KGM, NAR or LTR",
        );
        None
    }
}

fn read_item(
    index: usize,
    item: &pb::GoodsItem,
    nomenclature: Option<&Nomenclature>,
    violations: &mut FieldViolations,
) -> Option<GoodsItem> {
    let at = |field: &'static str| Child(Indexed("items", index), field);
    validate::required_text(at("description"), &item.description, violations);
    let origin = validate::country(at("origin_country"), &item.origin_country, violations);
    let code = match CommodityCode::parse(&item.commodity_code) {
        Ok(code) => Some(code),
        Err(problem) => {
            violations.add(at("commodity_code"), problem);
            None
        }
    };
    if let (Some(code), Some(nomenclature)) = (&code, nomenclature)
        && !nomenclature.contains(code)
    {
        violations.add(
            at("commodity_code"),
            format!(
                "{} is not a subheading of the nomenclature",
                code.subheading()
            ),
        );
    }
    let quantity = item.quantity.as_ref().and_then(|quantity| {
        let value = validate::positive_decimal(at("quantity.value"), &quantity.value, violations);
        let unit = read_unit(at("quantity.unit"), &quantity.unit, violations);
        value.zip(unit)
    });
    let net_mass_kg = if item.net_mass_kg.is_empty() {
        None
    } else {
        validate::positive_decimal(at("net_mass_kg"), &item.net_mass_kg, violations)
    };
    let invoice = validate::money(at("invoice_value"), item.invoice_value.as_ref(), violations);
    if invoice.is_some_and(|amount| amount.value.is_zero()) {
        violations.add(at("invoice_value.amount"), "must be greater than zero");
    }
    let freight = item.freight_and_insurance.as_ref().and_then(|freight| {
        validate::money(at("freight_and_insurance"), Some(freight), violations)
    });
    if let (Some(invoice), Some(freight)) = (invoice, freight)
        && invoice.currency != freight.currency
    {
        violations.add(
            at("freight_and_insurance.currency_code"),
            "must be the currency of invoice_value",
        );
    }
    Some(GoodsItem {
        commodity_code: code?,
        origin_country: origin?,
        quantity,
        net_mass_kg,
        invoice_value: invoice.filter(|amount| !amount.value.is_zero())?,
        freight_and_insurance: freight,
        classification_verified: nomenclature.is_some(),
    })
}

fn read_items(
    items: &[pb::GoodsItem],
    rulebook: &Rulebook,
    violations: &mut FieldViolations,
) -> Vec<GoodsItem> {
    let max_items = rulebook.tariff.max_items;
    if items.len() > max_items {
        violations.add(
            "items",
            format!("at most {max_items} items per declaration"),
        );
    }
    items
        .iter()
        .take(max_items)
        .enumerate()
        .filter_map(|(index, item)| {
            read_item(index, item, rulebook.nomenclature.as_ref(), violations)
        })
        .collect()
}

fn read_cash(
    index: usize,
    carried: &pb::CashCarried,
    violations: &mut FieldViolations,
) -> Option<CashCarried> {
    let at = |field: &str| format!("cash[{index}].{field}");
    validate::required_text(
        &at("traveller_reference"),
        &carried.traveller_reference,
        violations,
    );
    let amount = validate::money(&at("amount"), carried.amount.as_ref(), violations);
    if amount.is_some_and(|a| a.value.is_zero()) {
        violations.add(at("amount.amount"), "must be greater than zero");
    }
    let kind = match pb::CashKind::try_from(carried.kind) {
        Ok(pb::CashKind::Unspecified | pb::CashKind::Currency) => Some(CashKind::Currency),
        Ok(pb::CashKind::BearerNegotiableInstrument) => Some(CashKind::BearerNegotiableInstrument),
        Ok(pb::CashKind::GoldCoin) => Some(CashKind::GoldCoin),
        Ok(pb::CashKind::GoldBar) => Some(CashKind::GoldBar),
        Err(_) => {
            violations.add(at("kind"), format!("{} is not a known value", carried.kind));
            None
        }
    };
    let gold_fineness = match kind.and_then(CashKind::minimum_fineness) {
        Some(_) => {
            let fineness = validate::positive_decimal(
                &at("gold_fineness"),
                &carried.gold_fineness,
                violations,
            );
            if fineness.is_some_and(|f| f > Decimal::ONE) {
                violations.add(at("gold_fineness"), "is a fraction: at most 1");
                None
            } else {
                fineness
            }
        }
        None => {
            if !carried.gold_fineness.is_empty() {
                violations.add(at("gold_fineness"), "is for gold coins and bars only");
            }
            None
        }
    };
    let declared_amount = match &carried.declared_amount {
        None => None,
        Some(_) if !carried.declared => {
            violations.add(at("declared_amount"), "is given only when declared is true");
            None
        }
        Some(declared) => {
            let declared = validate::money(&at("declared_amount"), Some(declared), violations);
            if let (Some(declared), Some(amount)) = (declared, amount)
                && declared.currency != amount.currency
            {
                violations.add(
                    at("declared_amount.currency_code"),
                    "must be the currency of amount",
                );
            }
            declared
        }
    };
    Some(CashCarried {
        traveller_reference: carried.traveller_reference.trim().to_owned(),
        kind: kind?,
        amount: amount.filter(|a| !a.value.is_zero())?,
        gold_fineness,
        declared: carried.declared,
        declared_amount,
    })
}

impl CustomsApi {
    pub fn new(store: Store, rules: RulesInForce) -> Self {
        Self { store, rules }
    }

    /// Reads every field of the request, naming each bad one.
    fn read(
        &self,
        request: &pb::AssessDeclarationRequest,
        rulebook: &Rulebook,
    ) -> Result<Command, Status> {
        let mut violations = FieldViolations::new();
        let request_id = validate::request_id(&request.request_id, &mut violations);
        let crossing_point = match &request.crossing_point {
            Some(point) => {
                let country =
                    validate::country("crossing_point.country", &point.country, &mut violations);
                validate::required_text("crossing_point.code", &point.code, &mut violations)
                    .map(str::to_owned)
                    .zip(country)
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
        let transport = read_transport(request.transport_mode, &mut violations);
        if let Some(vehicle) = &request.vehicle {
            validate::required_text(
                "vehicle.registration",
                &vehicle.registration,
                &mut violations,
            );
            validate::country(
                "vehicle.registration_country",
                &vehicle.registration_country,
                &mut violations,
            );
            if pb::VehicleKind::try_from(vehicle.kind).is_err() {
                violations.add(
                    "vehicle.kind",
                    format!("{} is not a known value", vehicle.kind),
                );
            }
        }
        let procedure = read_procedure(request, &mut violations);
        let trader = read_trader(
            "declarant",
            request.declarant.as_ref(),
            matches!(
                procedure,
                Procedure::Import | Procedure::Export | Procedure::Transit
            ),
            &mut violations,
        );
        let goods = read_items(&request.items, rulebook, &mut violations);
        let cash: Vec<CashCarried> = request
            .cash
            .iter()
            .enumerate()
            .filter_map(|(index, carried)| read_cash(index, carried, &mut violations))
            .collect();
        let crossing_date = request
            .crossing_date
            .as_ref()
            .and_then(|date| validate::date("crossing_date", Some(date), &mut violations))
            .unwrap_or_else(|| Utc::now().date_naive());
        let ((code, country), request_id) = violations
            .into_result(crossing_point.zip(request_id))?
            .ok_or_else(|| {
                error::internal("reading a declaration", "a checked field is missing")
            })?;
        Ok(Command {
            request_id,
            country,
            declaration: Declaration {
                trader,
                procedure,
                transport,
                crossing_point: code,
                crossing_date,
                traveller_under_15: request.traveller_under_15,
                goods,
                cash,
            },
        })
    }
}

fn verdict_to_proto(verdict: Verdict) -> common::Verdict {
    match verdict {
        Verdict::Clear => common::Verdict::Clear,
        Verdict::ClearWithConditions => common::Verdict::ClearWithConditions,
        Verdict::Refer => common::Verdict::Refer,
        Verdict::Refuse => common::Verdict::Refuse,
    }
}

fn lane_to_proto(lane: Lane) -> pb::Lane {
    match lane {
        Lane::Green => pb::Lane::Green,
        Lane::Blue => pb::Lane::Blue,
        Lane::Yellow => pb::Lane::Yellow,
        Lane::Red => pb::Lane::Red,
    }
}

fn lane_from_proto(lane: pb::Lane) -> Lane {
    match lane {
        pb::Lane::Blue => Lane::Blue,
        pb::Lane::Yellow => Lane::Yellow,
        pb::Lane::Red => Lane::Red,
        pb::Lane::Green | pb::Lane::Unspecified => Lane::Green,
    }
}

fn reason(finding: &Finding) -> common::Reason {
    common::Reason {
        agency: common::Agency::Customs.into(),
        code: finding.code.to_owned(),
        rule_id: finding.rule_id.clone(),
        message: finding.message.clone(),
        subject: finding.subject.clone(),
        refusal_code: String::new(),
    }
}

fn money(currency: &str, value: Decimal) -> common::Money {
    common::Money {
        currency_code: currency.to_owned(),
        amount: value.to_string(),
    }
}

fn declaration_to_proto(
    id: Uuid,
    mrn: String,
    assessment: &Assessment,
    fiu_record_ids: Vec<String>,
) -> pb::Declaration {
    let currency = assessment.currency.to_string();
    // One total per currency; every amount is in the tariff currency, and none without goods.
    let total = |value: Decimal| {
        if assessment.items.is_empty() {
            Vec::new()
        } else {
            vec![money(&currency, value)]
        }
    };
    pb::Declaration {
        declaration_id: id.to_string(),
        mrn,
        verdict: verdict_to_proto(assessment.verdict).into(),
        lane: lane_to_proto(assessment.selection.lane).into(),
        items: assessment
            .items
            .iter()
            .enumerate()
            .map(|(index, item)| pb::ItemAssessment {
                item_index: index as i32,
                customs_value: Some(item.customs_value.to_proto()),
                duty_rate_percent: item.duty_rate_percent.to_string(),
                duty: Some(item.duty.to_proto()),
                vat_rate_percent: item.vat_rate_percent.to_string(),
                vat_base: Some(item.vat_base.to_proto()),
                vat: Some(item.vat.to_proto()),
                classification_verified: item.classification_verified,
                excise: Some(item.excise.to_proto()),
                duty_measure: item.duty_measure.clone(),
                exchange_rate: item
                    .exchange_rate
                    .map(|rate| rate.to_string())
                    .unwrap_or_default(),
                relief: item
                    .relief
                    .map(|relief| relief.code().to_owned())
                    .unwrap_or_default(),
            })
            .collect(),
        total_duty: total(assessment.total_duty),
        total_vat: total(assessment.total_vat),
        referrals: assessment
            .referrals
            .iter()
            .map(|referral| {
                let (agency, kind) = match referral.kind {
                    ReferralKind::Sanitary => {
                        (common::Agency::Sanitary, pb::ReferralKind::Sanitary)
                    }
                    ReferralKind::Licence => (common::Agency::Customs, pb::ReferralKind::Licence),
                };
                pb::Referral {
                    agency: agency.into(),
                    item_index: referral.item_index as i32,
                    commodity_code: referral.commodity_code.clone(),
                    document_type: referral.document_type.clone(),
                    reason: referral.reason.clone(),
                    kind: kind.into(),
                }
            })
            .collect(),
        reasons: assessment.findings.iter().map(reason).collect(),
        lane_rule_ids: assessment.selection.rule_ids(),
        risk_rule_set_version: assessment.selection.version.clone(),
        selection_seed: assessment.selection.seed,
        fiu_record_ids,
        exchange_rate_date: Some(validate::date_to_proto(assessment.rates_date)),
        total_excise: total(assessment.total_excise),
        tariff_currency: currency,
        status: pb::DeclarationStatus::Lodged.into(),
        invalidation_reason: String::new(),
        invalidate_time: None,
        examination: None,
    }
}

fn iso_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// The MRN country of a customs office: its reference number starts with it.
fn office_country(office: &CustomsOffice) -> &str {
    &office.as_str()[..2]
}

#[tonic::async_trait]
impl CustomsService for CustomsApi {
    async fn assess_declaration(
        &self,
        request: Request<pb::AssessDeclarationRequest>,
    ) -> Result<Response<pb::AssessDeclarationResponse>, Status> {
        let request = request.into_inner();
        let rulebook = self.rules.current();
        let command = self.read(&request, &rulebook)?;
        let seed = selection_seed(command.request_id);
        let assessment = assessment::assess(&command.declaration, &rulebook.rules(), seed)
            .map_err(|problems| {
                let mut violations = FieldViolations::new();
                problems_into(problems, &mut violations);
                violations.into_status()
            })?;
        // A repeat is found when its idempotency record meets the first one's at commit, and
        // rolls back: a first call, by far the most common, saves a database round trip.
        let call = IdempotentCall::new(ASSESS_DECLARATION, &request.request_id, &request);
        let id = new_record_id();
        // The MRN's serial takes random bits of its own, not the time-ordered id's.
        let mrn = mrn::build(
            command.declaration.crossing_date.year(),
            mrn::country_alpha2(&command.country),
            Uuid::new_v4().as_u128(),
        );
        let fiu_ids: Vec<Uuid> = assessment
            .fiu_records
            .iter()
            .map(|_| new_record_id())
            .collect();
        let declaration = declaration_to_proto(
            id,
            mrn,
            &assessment,
            fiu_ids.iter().map(Uuid::to_string).collect(),
        );
        let mut writes = WriteBatch::new();
        writes.add(Store::declaration_insert(
            &command.declaration.crossing_point,
            command.declaration.procedure.name(),
            &declaration,
        ));
        let context = FiuContext {
            declaration_id: &declaration.declaration_id,
            crossing_point: &command.declaration.crossing_point,
            currency_code: &declaration.tariff_currency,
        };
        for (record_id, record) in fiu_ids.iter().zip(&assessment.fiu_records) {
            writes.add(Store::fiu_record_insert(*record_id, &context, record));
        }
        let response = pb::AssessDeclarationResponse {
            declaration: Some(declaration),
        };
        let answer = call
            .commit_writes(self.store.writer(), writes, response)
            .await?;
        if let Some(lodged) = &answer.declaration {
            tracing::info!(
                declaration_id = %lodged.declaration_id,
                mrn = %lodged.mrn,
                items = command.declaration.goods.len(),
                lane = assessment.selection.lane.name(),
                "declaration assessed"
            );
        }
        Ok(Response::new(answer))
    }

    async fn get_declaration(
        &self,
        request: Request<pb::GetDeclarationRequest>,
    ) -> Result<Response<pb::GetDeclarationResponse>, Status> {
        let id = validate::record_id("declaration_id", &request.get_ref().declaration_id)?;
        let declaration = error::found(
            self.store.get_declaration(id).await,
            "Declaration",
            &id.to_string(),
            "reading a declaration",
        )?;
        Ok(Response::new(pb::GetDeclarationResponse {
            declaration: Some(declaration),
        }))
    }

    async fn open_transit(
        &self,
        request: Request<pb::OpenTransitRequest>,
    ) -> Result<Response<pb::OpenTransitResponse>, Status> {
        let request = request.into_inner();
        let rulebook = self.rules.current();
        let tariff = &rulebook.tariff;
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let office = |field: &str, value: &str, violations: &mut FieldViolations| {
            CustomsOffice::parse(value)
                .map_err(|problem| violations.add(field, problem))
                .ok()
        };
        let departure_office = office(
            "office_of_departure",
            &request.office_of_departure,
            &mut violations,
        );
        let destination_office = office(
            "office_of_destination",
            &request.office_of_destination,
            &mut violations,
        );
        read_trader(
            "principal",
            request.principal.as_ref(),
            true,
            &mut violations,
        );
        let guarantee = validate::money("guarantee", request.guarantee.as_ref(), &mut violations);
        if guarantee.is_some_and(|g: Amount| g.currency != tariff.currency) {
            violations.add(
                "guarantee.currency_code",
                format!("must be {}, the tariff currency", tariff.currency),
            );
        }
        if request.route.is_empty() {
            violations.add("route", "name at least the country of departure");
        }
        for (index, country) in request.route.iter().enumerate() {
            validate::country(&format!("route[{index}]"), country, &mut violations);
        }
        let departure = validate::date(
            "departure_date",
            request.departure_date.as_ref(),
            &mut violations,
        );
        // Four-digit years keep the stored ISO dates in calendar order as text.
        let departure = departure.filter(|day| {
            let plausible = (1970..=9999).contains(&day.year());
            if !plausible {
                violations.add("departure_date", "must be in a year from 1970 to 9999");
            }
            plausible
        });
        let time_limit = validate::date("time_limit", request.time_limit.as_ref(), &mut violations);
        if let (Some(departure), Some(limit)) = (departure, time_limit)
            && let Err(problem) = transit::check_time_limit(departure, limit)
        {
            violations.add("time_limit", problem);
        }
        if request.items.is_empty() {
            violations.add(
                "items",
                "a transit movement carries at least one goods item",
            );
        }
        let goods = read_items(&request.items, &rulebook, &mut violations);
        let at_stake = match (departure, goods.len() == request.items.len()) {
            (Some(departure), true) => {
                match assessment::duties_at_stake(&goods, tariff, departure) {
                    Ok(at_stake) => Some(at_stake),
                    Err(problems) => {
                        problems_into(problems, &mut violations);
                        None
                    }
                }
            }
            _ => None,
        };
        if let (Some(guarantee), Some(at_stake)) = (guarantee, at_stake)
            && let Err(problem) = transit::check_guarantee(guarantee.value, at_stake)
        {
            violations.add("guarantee.amount", format!("{problem} {}", tariff.currency));
        }
        let checked = departure_office
            .zip(destination_office)
            .zip(departure.zip(time_limit))
            .zip(at_stake);
        let (((departure_office, destination_office), (departure, time_limit)), at_stake) =
            violations.into_result(checked)?.ok_or_else(|| {
                error::internal("opening a transit", "a checked field is missing")
            })?;

        let call = IdempotentCall::new(OPEN_TRANSIT, &request.request_id, &request);
        if let Some(saved) = call.replay(self.store.db()).await? {
            return Ok(Response::new(saved));
        }
        let movement = pb::TransitMovement {
            mrn: mrn::build(
                departure.year(),
                office_country(&departure_office),
                Uuid::new_v4().as_u128(),
            ),
            status: pb::TransitStatus::Open.into(),
            office_of_departure: departure_office.as_str().to_owned(),
            office_of_destination: destination_office.as_str().to_owned(),
            principal: request.principal.clone(),
            guarantee: request.guarantee.clone(),
            route: request.route.clone(),
            departure_date: request.departure_date,
            time_limit: request.time_limit,
            office_of_discharge: String::new(),
            arrival_date: None,
            reasons: Vec::new(),
            duties_at_stake: Some(money(tariff.currency.as_str(), at_stake)),
        };
        let mut tx = call.begin(self.store.db()).await?;
        self.store
            .insert_transit(&mut tx, &movement, &iso_date(time_limit))
            .await
            .map_err(|e| error::internal("opening a transit", e))?;
        tracing::info!(mrn = %movement.mrn, "transit opened");
        let response = pb::OpenTransitResponse {
            movement: Some(movement),
        };
        Ok(Response::new(
            call.commit(self.store.db(), tx, response).await?,
        ))
    }

    async fn discharge_transit(
        &self,
        request: Request<pb::DischargeTransitRequest>,
    ) -> Result<Response<pb::DischargeTransitResponse>, Status> {
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        if !mrn::is_valid(&request.mrn) {
            violations.add(
                "mrn",
                "must be an 18-character MRN with a valid check character",
            );
        }
        let office = CustomsOffice::parse(&request.office_of_destination)
            .map_err(|problem| violations.add("office_of_destination", problem))
            .ok();
        let arrival = validate::date(
            "arrival_date",
            request.arrival_date.as_ref(),
            &mut violations,
        );
        let (office, arrival) = violations
            .into_result(office.zip(arrival))?
            .ok_or_else(|| {
                error::internal("discharging a transit", "a checked field is missing")
            })?;

        let call = IdempotentCall::new(DISCHARGE_TRANSIT, &request.request_id, &request);
        if let Some(saved) = call.replay(self.store.db()).await? {
            return Ok(Response::new(saved));
        }
        let movement = self
            .store
            .get_transit(&request.mrn)
            .await
            .map_err(|e| error::internal("reading a transit", e))?
            .ok_or_else(|| error::not_found("TransitMovement", &request.mrn))?;
        let not_open = || {
            error::status(
                Code::FailedPrecondition,
                "TRANSIT_NOT_OPEN",
                format!("transit {} is already discharged", request.mrn),
            )
        };
        if movement.status() != pb::TransitStatus::Open {
            return Err(not_open());
        }
        let stored_date = |date: Option<common::Date>| {
            let mut ignored = FieldViolations::new();
            validate::date("", date.as_ref(), &mut ignored)
        };
        let (Some(departure), Some(time_limit)) = (
            stored_date(movement.departure_date),
            stored_date(movement.time_limit),
        ) else {
            return Err(error::internal(
                "discharging a transit",
                "stored dates are unreadable",
            ));
        };
        if arrival < departure {
            let mut violations = FieldViolations::new();
            violations.add(
                "arrival_date",
                format!("must not be before the departure on {departure}"),
            );
            return Err(violations.into_status());
        }
        let findings = transit::discharge_findings(
            &movement.office_of_destination,
            &office,
            time_limit,
            arrival,
        );
        let discharged = pb::TransitMovement {
            status: pb::TransitStatus::Discharged.into(),
            office_of_discharge: office.as_str().to_owned(),
            arrival_date: request.arrival_date,
            reasons: findings.iter().map(reason).collect(),
            ..movement
        };
        let mut tx = call.begin(self.store.db()).await?;
        let saved = self
            .store
            .discharge_transit(&mut tx, &discharged)
            .await
            .map_err(|e| error::internal("discharging a transit", e))?;
        if !saved {
            return Err(not_open());
        }
        tracing::info!(mrn = %discharged.mrn, late = findings.iter().any(|f| f.code == "TIME_LIMIT_EXCEEDED"), "transit discharged");
        let response = pb::DischargeTransitResponse {
            movement: Some(discharged),
        };
        Ok(Response::new(
            call.commit(self.store.db(), tx, response).await?,
        ))
    }

    async fn list_overdue_transits(
        &self,
        request: Request<pb::ListOverdueTransitsRequest>,
    ) -> Result<Response<pb::ListOverdueTransitsResponse>, Status> {
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let as_of = validate::date("as_of", request.as_of.as_ref(), &mut violations);
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size if (1..=MAX_PAGE_SIZE).contains(&size) => size,
            _ => {
                violations.add("page_size", format!("must be 0 to {MAX_PAGE_SIZE}"));
                DEFAULT_PAGE_SIZE
            }
        };
        let as_of = violations
            .into_result(as_of)?
            .ok_or_else(|| error::internal("listing transits", "a checked field is missing"))?;
        let movements = self
            .store
            .overdue_transits(&iso_date(as_of), i64::from(page_size))
            .await
            .map_err(|e| error::internal("listing overdue transits", e))?;
        Ok(Response::new(pb::ListOverdueTransitsResponse { movements }))
    }

    async fn invalidate_declaration(
        &self,
        request: Request<pb::InvalidateDeclarationRequest>,
    ) -> Result<Response<pb::InvalidateDeclarationResponse>, Status> {
        self.invalidate(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn record_examination(
        &self,
        request: Request<pb::RecordExaminationRequest>,
    ) -> Result<Response<pb::RecordExaminationResponse>, Status> {
        self.examine(request.into_inner()).await.map(Response::new)
    }
}
