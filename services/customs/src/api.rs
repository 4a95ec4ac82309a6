//! The tonic CustomsService: proto in, validated domain values, domain rules, proto out.

use std::collections::BTreeMap;

use bordermesh_kit::{
    error::{self, FieldViolations},
    idempotency::IdempotentCall,
    validate::{self, Currency},
};
use bordermesh_proto::{
    common::v1 as common,
    customs::v1::{self as pb, customs_service_server::CustomsService},
};
use chrono::{Datelike, Utc};
use rust_decimal::Decimal;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{
        assessment::{self, Assessment, CashCarried, GoodsItem, Verdict},
        commodity::{CommodityCode, Nomenclature},
        mrn,
        referral::SanitaryReferrals,
        tariff::Tariff,
    },
    store::Store,
};

const ASSESS_DECLARATION: &str = "customs.AssessDeclaration";

pub struct CustomsApi {
    store: Store,
    tariff: Tariff,
    nomenclature: Option<Nomenclature>,
    sanitary: SanitaryReferrals,
}

impl CustomsApi {
    pub fn new(
        store: Store,
        tariff: Tariff,
        nomenclature: Option<Nomenclature>,
        sanitary: SanitaryReferrals,
    ) -> Self {
        Self {
            store,
            tariff,
            nomenclature,
            sanitary,
        }
    }

    /// Reads every field of the request, naming each bad one.
    fn read(&self, request: &pb::AssessDeclarationRequest) -> Result<Command, Status> {
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let crossing_point = match &request.crossing_point {
            Some(point) => {
                validate::country("crossing_point.country", &point.country, &mut violations);
                validate::required_text("crossing_point.code", &point.code, &mut violations)
                    .map(|code| (code.to_owned(), point.country.clone()))
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
        let procedure = if request.items.is_empty() {
            pb::Procedure::try_from(request.procedure).unwrap_or_default()
        } else {
            validate::required_enum::<pb::Procedure>(
                "procedure",
                request.procedure,
                &mut violations,
            )
            .unwrap_or_default()
        };
        if request.items.len() > self.tariff.max_items {
            violations.add(
                "items",
                format!("at most {} items per declaration", self.tariff.max_items),
            );
        }
        let goods: Vec<GoodsItem> = request
            .items
            .iter()
            .take(self.tariff.max_items)
            .enumerate()
            .filter_map(|(index, item)| self.read_item(index, item, &mut violations))
            .collect();
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
        let (crossing_point, country) = violations.into_result(crossing_point)?.unwrap_or_default();
        Ok(Command {
            crossing_point,
            country,
            procedure,
            year: crossing_date.year(),
            goods,
            cash,
        })
    }

    fn read_item(
        &self,
        index: usize,
        item: &pb::GoodsItem,
        violations: &mut FieldViolations,
    ) -> Option<GoodsItem> {
        let at = |field: &str| format!("items[{index}].{field}");
        validate::required_text(&at("description"), &item.description, violations);
        validate::country(&at("origin_country"), &item.origin_country, violations);
        let code = match CommodityCode::parse(&item.commodity_code) {
            Ok(code) => Some(code),
            Err(problem) => {
                violations.add(at("commodity_code"), problem);
                None
            }
        };
        if let (Some(code), Some(nomenclature)) = (&code, &self.nomenclature)
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
        if let Some(quantity) = &item.quantity {
            validate::positive_decimal(&at("quantity.value"), &quantity.value, violations);
        }
        if !item.net_mass_kg.is_empty() {
            validate::positive_decimal(&at("net_mass_kg"), &item.net_mass_kg, violations);
        }
        let invoice = validate::money(
            &at("invoice_value"),
            item.invoice_value.as_ref(),
            violations,
        );
        if invoice.is_some_and(|amount| amount.value.is_zero()) {
            violations.add(at("invoice_value.amount"), "must be greater than zero");
        }
        let freight = item.freight_and_insurance.as_ref().and_then(|freight| {
            validate::money(&at("freight_and_insurance"), Some(freight), violations)
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
            invoice_value: invoice?,
            freight_and_insurance: freight,
            classification_verified: self.nomenclature.is_some(),
        })
    }
}

fn read_cash(
    index: usize,
    carried: &pb::CashCarried,
    violations: &mut FieldViolations,
) -> Option<CashCarried> {
    let amount = validate::money(
        &format!("cash[{index}].amount"),
        carried.amount.as_ref(),
        violations,
    )?;
    Some(CashCarried {
        traveller_reference: carried.traveller_reference.clone(),
        amount,
        declared: carried.declared,
    })
}

struct Command {
    crossing_point: String,
    country: String,
    procedure: pb::Procedure,
    year: i32,
    goods: Vec<GoodsItem>,
    cash: Vec<CashCarried>,
}

fn verdict_to_proto(verdict: Verdict) -> common::Verdict {
    match verdict {
        Verdict::Clear => common::Verdict::Clear,
        Verdict::ClearWithConditions => common::Verdict::ClearWithConditions,
        Verdict::Refer => common::Verdict::Refer,
    }
}

fn totals(totals: &BTreeMap<Currency, Decimal>) -> Vec<common::Money> {
    totals
        .iter()
        .map(|(currency, value)| common::Money {
            currency_code: currency.to_string(),
            amount: value.to_string(),
        })
        .collect()
}

fn declaration_to_proto(id: Uuid, mrn: String, assessment: &Assessment) -> pb::Declaration {
    pb::Declaration {
        declaration_id: id.to_string(),
        mrn,
        verdict: verdict_to_proto(assessment.verdict).into(),
        lane: pb::Lane::Unspecified.into(),
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
            })
            .collect(),
        total_duty: totals(&assessment.total_duty),
        total_vat: totals(&assessment.total_vat),
        referrals: assessment
            .referrals
            .iter()
            .map(|referral| pb::Referral {
                agency: common::Agency::Sanitary.into(),
                item_index: referral.item_index as i32,
                commodity_code: referral.commodity_code.clone(),
                document_type: referral.document_type.clone(),
                reason: referral.reason.clone(),
            })
            .collect(),
        reasons: assessment
            .findings
            .iter()
            .map(|finding| common::Reason {
                agency: common::Agency::Customs.into(),
                code: finding.code.to_owned(),
                rule_id: finding.rule_id.to_owned(),
                message: finding.message.clone(),
                subject: finding.subject.clone(),
                refusal_code: String::new(),
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl CustomsService for CustomsApi {
    async fn assess_declaration(
        &self,
        request: Request<pb::AssessDeclarationRequest>,
    ) -> Result<Response<pb::AssessDeclarationResponse>, Status> {
        let request = request.into_inner();
        let command = self.read(&request)?;
        let call = IdempotentCall::new(ASSESS_DECLARATION, &request.request_id, &request);
        if let Some(saved) = call.replay(self.store.pool()).await? {
            return Ok(Response::new(saved));
        }
        let assessment =
            assessment::assess(&command.goods, &command.cash, &self.tariff, &self.sanitary);
        let id = Uuid::new_v4();
        let mrn = mrn::build(
            command.year,
            mrn::country_alpha2(&command.country),
            id.as_u128(),
        );
        let declaration = declaration_to_proto(id, mrn, &assessment);
        let mut tx = self
            .store
            .pool()
            .begin()
            .await
            .map_err(|e| error::internal("starting a transaction", e))?;
        self.store
            .insert_declaration(
                &mut tx,
                &command.crossing_point,
                command.procedure.as_str_name(),
                &declaration,
            )
            .await
            .map_err(|e| error::internal("lodging a declaration", e))?;
        tracing::info!(declaration_id = %id, mrn = %declaration.mrn, items = command.goods.len(), "declaration assessed");
        let response = pb::AssessDeclarationResponse {
            declaration: Some(declaration),
        };
        Ok(Response::new(
            call.commit(self.store.pool(), tx, response).await?,
        ))
    }

    async fn get_declaration(
        &self,
        request: Request<pb::GetDeclarationRequest>,
    ) -> Result<Response<pb::GetDeclarationResponse>, Status> {
        let id = validate::record_id("declaration_id", &request.get_ref().declaration_id)?;
        match self.store.get_declaration(id).await {
            Ok(Some(declaration)) => Ok(Response::new(pb::GetDeclarationResponse {
                declaration: Some(declaration),
            })),
            Ok(None) => Err(error::not_found("Declaration", &id.to_string())),
            Err(e) => Err(error::internal("reading a declaration", e)),
        }
    }
}
