//! The assessment of one declaration: customs value in the tariff currency, duty, excise and
//! VAT per item in decimal arithmetic, reliefs (traveller allowances, negligible value), cash
//! controls, referrals and the risk lane.

use bordermesh_kit::validate::{Amount, Currency};
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{
    Finding, Problem, Procedure, Transport, Verdict,
    cash::{self, CashCarried, FiuRecord},
    commodity::CommodityCode,
    referral::ReferralTable,
    risk::{DeclarationFacts, ItemFacts, Lane, RiskProfiles, Selection},
    tariff::{ExchangeRates, Quantities, Tariff},
    trader::Trader,
};

#[derive(Debug, Clone)]
pub struct GoodsItem {
    pub commodity_code: CommodityCode,
    pub origin_country: String,
    /// Quantity in the supplementary unit and the unit's code.
    pub quantity: Option<(Decimal, String)>,
    pub net_mass_kg: Option<Decimal>,
    pub invoice_value: Amount,
    /// Same currency as the invoice value (checked when the request is read).
    pub freight_and_insurance: Option<Amount>,
    pub classification_verified: bool,
}

impl GoodsItem {
    fn quantities(&self) -> Quantities<'_> {
        Quantities {
            supplementary: self
                .quantity
                .as_ref()
                .map(|(value, unit)| (*value, unit.as_str())),
            net_mass_kg: self.net_mass_kg,
        }
    }
}

/// A declaration as customs reads it.
#[derive(Debug, Clone)]
pub struct Declaration {
    pub trader: Option<Trader>,
    pub procedure: Procedure,
    pub transport: Transport,
    pub crossing_point: String,
    pub crossing_date: NaiveDate,
    pub traveller_under_15: bool,
    pub goods: Vec<GoodsItem>,
    pub cash: Vec<CashCarried>,
}

/// The rules a declaration is assessed against.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub tariff: &'a Tariff,
    pub sanitary: &'a ReferralTable,
    pub licences: &'a ReferralTable,
    pub risk: &'a RiskProfiles,
}

/// Why an item bears no duty (or no duty and no VAT) despite its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relief {
    /// Export and transit: no import duty is incurred (UCC Art. 77 needs release for free
    /// circulation).
    NotForFreeCirculation,
    /// Council Directive 2007/74/EC: goods within the traveller's allowance.
    TravellerAllowance,
    /// Council Regulation (EC) No 1186/2009 Art. 23: consignment of negligible value, duty only.
    DeMinimisDuty,
    /// Duty and VAT relief where the country still grants VAT relief on low values.
    DeMinimisDutyAndVat,
}

impl Relief {
    pub fn code(self) -> &'static str {
        match self {
            Relief::NotForFreeCirculation => "NOT_FOR_FREE_CIRCULATION",
            Relief::TravellerAllowance => "TRAVELLER_ALLOWANCE",
            Relief::DeMinimisDuty => "DE_MINIMIS_DUTY",
            Relief::DeMinimisDutyAndVat => "DE_MINIMIS",
        }
    }

    fn relieves_vat(self) -> bool {
        !matches!(self, Relief::DeMinimisDuty)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemAssessment {
    /// CIF value in the tariff currency.
    pub customs_value: Amount,
    /// Units of the declared currency per unit of the tariff currency, when converted.
    pub exchange_rate: Option<Decimal>,
    pub duty_measure: String,
    pub duty_rate_percent: Decimal,
    pub duty: Amount,
    pub excise: Amount,
    pub vat_rate_percent: Decimal,
    pub vat_base: Amount,
    pub vat: Amount,
    pub classification_verified: bool,
    pub relief: Option<Relief>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferralKind {
    Sanitary,
    Licence,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    pub kind: ReferralKind,
    pub item_index: usize,
    pub commodity_code: String,
    pub document_type: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Assessment {
    pub verdict: Verdict,
    pub currency: Currency,
    pub rates_date: NaiveDate,
    pub items: Vec<ItemAssessment>,
    pub total_duty: Decimal,
    pub total_excise: Decimal,
    pub total_vat: Decimal,
    pub referrals: Vec<Referral>,
    pub findings: Vec<Finding>,
    pub selection: Selection,
    pub fiu_records: Vec<FiuRecord>,
}

/// An item's value converted into the tariff currency.
struct Valued {
    customs_value: Decimal,
    intrinsic_value: Decimal,
    exchange_rate: Option<Decimal>,
}

/// UCC Art. 53(1)(a) and 70-71: the CIF value (transaction value plus freight and insurance to
/// the point of entry), converted at the rate in force on the day.
fn value_item(
    index: usize,
    item: &GoodsItem,
    tariff: &Tariff,
    rates: &ExchangeRates,
) -> Result<Valued, Problem> {
    let currency = item.invoice_value.currency;
    let Some(rate) = rates.rate(currency) else {
        return Err(Problem {
            field: format!("items[{index}].invoice_value.currency_code"),
            message: format!(
                "the tariff has no exchange rate for {currency} on {}",
                rates.date
            ),
        });
    };
    let freight = item
        .freight_and_insurance
        .map_or(Decimal::ZERO, |f| f.value);
    Ok(Valued {
        customs_value: tariff.round((item.invoice_value.value + freight) / rate),
        intrinsic_value: tariff.round(item.invoice_value.value / rate),
        exchange_rate: (currency != tariff.currency).then_some(rate),
    })
}

/// Council Directive 2007/74/EC Art. 7-9: tobacco and alcohol within their quantity limits, and
/// other goods up to the monetary threshold (EUR 430 by air and sea, 300 by land, 150 under 15),
/// pass free; an item's value is not split (Art. 7(2)), so an item that does not fit is taxed
/// in full, and so is a quantity above its limit.
fn allowance_reliefs(
    declaration: &Declaration,
    values: &[Valued],
    tariff: &Tariff,
    problems: &mut Vec<Problem>,
) -> Vec<Option<Relief>> {
    let allowances = &tariff.allowances;
    let threshold = if declaration.traveller_under_15 {
        allowances.under_15
    } else if declaration.transport.is_air_or_sea() {
        allowances.air_and_sea
    } else {
        allowances.land
    };
    let mut used_value = Decimal::ZERO;
    let mut used_quantity: std::collections::HashMap<&str, Decimal> = Default::default();
    declaration
        .goods
        .iter()
        .zip(values)
        .enumerate()
        .map(|(index, (item, valued))| {
            let code = item.commodity_code.as_str();
            if let Some(limited) = allowances.quantity_allowance(code) {
                let Some(quantity) = item.quantities().in_unit(&limited.unit) else {
                    problems.push(Problem {
                        field: format!("items[{index}].quantity"),
                        message: format!(
                            "give the quantity in {} for the {} allowance",
                            limited.unit, limited.label
                        ),
                    });
                    return None;
                };
                let used = used_quantity.entry(limited.label.as_str()).or_default();
                *used += quantity;
                (*used <= limited.limit).then_some(Relief::TravellerAllowance)
            } else if used_value + valued.customs_value <= threshold {
                used_value += valued.customs_value;
                Some(Relief::TravellerAllowance)
            } else {
                None
            }
        })
        .collect()
}

/// Council Regulation (EC) No 1186/2009 Art. 23-24: a consignment whose intrinsic value does
/// not exceed the configured amount is relieved of duty, except alcohol, tobacco and perfumes.
fn de_minimis_reliefs(
    declaration: &Declaration,
    values: &[Valued],
    tariff: &Tariff,
) -> Vec<Option<Relief>> {
    let de_minimis = &tariff.de_minimis;
    let intrinsic: Decimal = values.iter().map(|v| v.intrinsic_value).sum();
    let relief = if intrinsic <= de_minimis.vat && intrinsic <= de_minimis.duty {
        Some(Relief::DeMinimisDutyAndVat)
    } else if intrinsic <= de_minimis.duty {
        Some(Relief::DeMinimisDuty)
    } else {
        None
    };
    declaration
        .goods
        .iter()
        .map(|item| relief.filter(|_| !de_minimis.excludes(item.commodity_code.as_str())))
        .collect()
}

/// Duty by the tariff's measure, excise where configured, and VAT (Directive 2006/112/EC
/// Art. 85-86) on customs value plus duty plus excise; each rounded as the tariff says.
fn tax_item(
    index: usize,
    item: &GoodsItem,
    valued: &Valued,
    relief: Option<Relief>,
    tariff: &Tariff,
) -> Result<ItemAssessment, Problem> {
    let code = item.commodity_code.as_str();
    let quantities = item.quantities();
    let measure = tariff.duty_measure(code);
    let missing_quantity = |unit: String| Problem {
        field: format!("items[{index}].quantity"),
        message: format!(
            "the tariff charges {code} per {unit}: give the quantity in {unit}{}",
            if unit == "KGM" { " or net_mass_kg" } else { "" }
        ),
    };
    let customs_value = valued.customs_value;
    let (duty, excise) = if relief.is_some() {
        (Decimal::ZERO, Decimal::ZERO)
    } else {
        let duty = measure
            .charge(customs_value, &quantities)
            .map_err(missing_quantity)?;
        let excise = match tariff.excise_measure(code) {
            Some(excise) => excise
                .charge(customs_value, &quantities)
                .map_err(missing_quantity)?,
            None => Decimal::ZERO,
        };
        (tariff.round(duty), tariff.round(excise))
    };
    let vat_base = customs_value + duty + excise;
    let vat = if relief.is_some_and(Relief::relieves_vat) {
        Decimal::ZERO
    } else {
        tariff.round(vat_base * tariff.vat_rate_percent / Decimal::ONE_HUNDRED)
    };
    let currency = tariff.currency;
    let amount = |value: Decimal| Amount {
        currency,
        value: tariff.round(value),
    };
    Ok(ItemAssessment {
        customs_value: amount(customs_value),
        exchange_rate: valued.exchange_rate,
        duty_measure: tariff.duty_description(code).to_owned(),
        duty_rate_percent: measure.ad_valorem_percent,
        duty: amount(duty),
        excise: amount(excise),
        vat_rate_percent: tariff.vat_rate_percent,
        vat_base: amount(vat_base),
        vat: amount(vat),
        classification_verified: item.classification_verified,
        relief,
    })
}

/// Duties and taxes at stake on goods released for free circulation, which a transit
/// guarantee must cover (UCC Art. 89(2)): no relief is assumed.
pub fn duties_at_stake(
    goods: &[GoodsItem],
    tariff: &Tariff,
    date: NaiveDate,
) -> Result<Decimal, Vec<Problem>> {
    let Some(rates) = tariff.rates_on(date) else {
        return Err(vec![no_rates(tariff, date)]);
    };
    let mut problems = Vec::new();
    let mut total = Decimal::ZERO;
    for (index, item) in goods.iter().enumerate() {
        match value_item(index, item, tariff, rates)
            .and_then(|valued| tax_item(index, item, &valued, None, tariff))
        {
            Ok(taxed) => total += taxed.duty.value + taxed.excise.value + taxed.vat.value,
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(total)
    } else {
        Err(problems)
    }
}

fn no_rates(tariff: &Tariff, date: NaiveDate) -> Problem {
    Problem {
        field: "crossing_date".into(),
        message: format!(
            "the tariff has no exchange rates in force on {date} (currency {})",
            tariff.currency
        ),
    }
}

fn referrals(declaration: &Declaration, rules: &Rules) -> Vec<Referral> {
    let mut referrals = Vec::new();
    for (index, item) in declaration.goods.iter().enumerate() {
        let code = item.commodity_code.as_str();
        for (kind, table) in [
            (ReferralKind::Sanitary, rules.sanitary),
            (ReferralKind::Licence, rules.licences),
        ] {
            if let Some(rule) = table.rule_for(code, declaration.procedure) {
                referrals.push(Referral {
                    kind,
                    item_index: index,
                    commodity_code: code.to_owned(),
                    document_type: rule.document_type.clone(),
                    reason: rule.reason.clone(),
                });
            }
        }
    }
    referrals
}

/// The finding that explains the lane: RED refers to customs' second line, YELLOW sets a
/// documentary check as condition, BLUE releases for a post-clearance audit (UCC Art. 48).
fn lane_finding(selection: &Selection) -> Option<Finding> {
    let (verdict, code, control) = match selection.lane {
        Lane::Green => return None,
        Lane::Blue => (Verdict::Clear, "LANE_BLUE", "post-clearance audit"),
        Lane::Yellow => (
            Verdict::ClearWithConditions,
            "LANE_YELLOW",
            "documentary check before release",
        ),
        Lane::Red => (Verdict::Refer, "LANE_RED", "physical examination"),
    };
    let mut why: Vec<String> = selection
        .fired
        .iter()
        .filter(|rule| rule.lane == selection.lane)
        .map(|rule| format!("{} ({})", rule.description, rule.id))
        .collect();
    if selection.random == Some(selection.lane) {
        why.push(format!(
            "random selection (RANDOM-{}, seed {})",
            selection.lane.name(),
            selection.seed
        ));
    }
    Some(Finding {
        verdict,
        code,
        rule_id: selection.rule_ids().into_iter().next().unwrap_or_default(),
        message: format!(
            "{} lane, {control}: {}; rule set {}",
            selection.lane.name(),
            why.join("; "),
            selection.version
        ),
        subject: "items".into(),
    })
}

/// Assesses a declaration. `seed` drives random selection; pass the one derived from the
/// request so that the lane can be replayed. Problems only the rules reveal are returned as
/// field problems.
pub fn assess(
    declaration: &Declaration,
    rules: &Rules,
    seed: u64,
) -> Result<Assessment, Vec<Problem>> {
    let tariff = rules.tariff;
    let Some(rates) = tariff.rates_on(declaration.crossing_date) else {
        return Err(vec![no_rates(tariff, declaration.crossing_date)]);
    };
    let mut problems = Vec::new();
    let values: Vec<Valued> = declaration
        .goods
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            value_item(index, item, tariff, rates)
                .map_err(|problem| problems.push(problem))
                .ok()
        })
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    let reliefs = match declaration.procedure {
        Procedure::Export | Procedure::Transit => {
            vec![Some(Relief::NotForFreeCirculation); values.len()]
        }
        Procedure::PersonalLuggage => {
            allowance_reliefs(declaration, &values, tariff, &mut problems)
        }
        Procedure::Import | Procedure::Unspecified => {
            de_minimis_reliefs(declaration, &values, tariff)
        }
    };
    let items: Vec<ItemAssessment> = declaration
        .goods
        .iter()
        .zip(&values)
        .zip(&reliefs)
        .enumerate()
        .filter_map(|(index, ((item, valued), relief))| {
            tax_item(index, item, valued, *relief, tariff)
                .map_err(|problem| problems.push(problem))
                .ok()
        })
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    let total_duty: Decimal = items.iter().map(|i| i.duty.value).sum();
    let total_excise: Decimal = items.iter().map(|i| i.excise.value).sum();
    let total_vat: Decimal = items.iter().map(|i| i.vat.value).sum();

    let mut findings = Vec::new();
    if total_duty + total_excise + total_vat > Decimal::ZERO {
        findings.push(Finding {
            verdict: Verdict::ClearWithConditions,
            code: "DUTIES_DUE",
            rule_id: "UCC-ART-77".into(),
            message: "import duty, excise and VAT are to be paid before release".into(),
            subject: "items".into(),
        });
    }
    for relief in [
        Relief::NotForFreeCirculation,
        Relief::TravellerAllowance,
        Relief::DeMinimisDuty,
        Relief::DeMinimisDutyAndVat,
    ] {
        let relieved: Vec<String> = reliefs
            .iter()
            .enumerate()
            .filter(|(_, r)| **r == Some(relief))
            .map(|(index, _)| index.to_string())
            .collect();
        if relieved.is_empty() {
            continue;
        }
        let (rule_id, text) = match relief {
            Relief::NotForFreeCirculation => (
                "UCC-ART-77",
                "not released for free circulation: no import duty or VAT is incurred",
            ),
            Relief::TravellerAllowance => (
                "DIR-2007-74-ART-7",
                "within the traveller's allowance: free of duty and VAT",
            ),
            Relief::DeMinimisDuty => (
                "REG-1186-2009-ART-23",
                "a consignment of negligible value: relieved of import duty",
            ),
            Relief::DeMinimisDutyAndVat => (
                "REG-1186-2009-ART-23",
                "a consignment of negligible value: relieved of duty and VAT",
            ),
        };
        findings.push(Finding {
            verdict: Verdict::Clear,
            code: relief.code(),
            rule_id: rule_id.into(),
            message: format!("items {}: {text}", relieved.join(", ")),
            subject: "items".into(),
        });
    }
    // Without a nomenclature no code is verified: one reason says so for all of them, and each
    // item's own flag repeats it.
    let unverified = declaration
        .goods
        .iter()
        .filter(|item| !item.classification_verified)
        .count();
    if unverified > 0 {
        findings.push(Finding {
            verdict: Verdict::Clear,
            code: "CLASSIFICATION_UNVERIFIED",
            rule_id: "UCC-ART-57".into(),
            message: format!(
                "no nomenclature is configured: only the format of {unverified} commodity code(s) was checked"
            ),
            subject: "items".into(),
        });
    }
    let referrals = referrals(declaration, rules);
    for referral in referrals.iter().filter(|r| r.kind == ReferralKind::Licence) {
        findings.push(Finding {
            verdict: Verdict::ClearWithConditions,
            code: "LICENCE_REQUIRED",
            rule_id: if referral.document_type == "CITES" {
                "REG-338-97-ART-4".into()
            } else {
                "REG-2021-821-ART-3".into()
            },
            message: format!(
                "present the {} document: {}",
                referral.document_type, referral.reason
            ),
            subject: format!("items[{}]", referral.item_index),
        });
    }
    let cash = cash::control(&declaration.cash, tariff, rates);
    findings.extend(cash.findings);

    let facts = DeclarationFacts {
        trader: declaration.trader.as_ref(),
        procedure: declaration.procedure,
        crossing_point: &declaration.crossing_point,
        transport: declaration.transport,
        items: declaration
            .goods
            .iter()
            .zip(&items)
            .map(|(item, assessed)| ItemFacts {
                commodity_code: item.commodity_code.as_str(),
                origin_country: &item.origin_country,
                value: assessed.customs_value.value,
                net_mass_kg: item.net_mass_kg,
            })
            .collect(),
    };
    let selection = rules.risk.select(&facts, seed);
    findings.extend(lane_finding(&selection));

    let verdict = findings
        .iter()
        .map(|f| f.verdict)
        .max()
        .unwrap_or(Verdict::Clear);
    Ok(Assessment {
        verdict,
        currency: tariff.currency,
        rates_date: rates.date,
        items,
        total_duty,
        total_excise,
        total_vat,
        referrals,
        findings,
        selection,
        fiu_records: cash.fiu_records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{risk::DEFAULT_RISK_PROFILES, tariff::DEFAULT_TARIFF, trader::Eori};

    /// The default rule set with random selection switched off, so lanes come from rules only.
    fn no_random_risk() -> RiskProfiles {
        RiskProfiles::from_toml(
            &DEFAULT_RISK_PROFILES
                .replace("red_percent = \"1\"", "red_percent = \"0\"")
                .replace("yellow_percent = \"3\"", "yellow_percent = \"0\"")
                .replace("blue_percent = \"2\"", "blue_percent = \"0\"")
                .replace("red_percent = \"0.2\"", "red_percent = \"0\"")
                .replace("yellow_percent = \"0.5\"", "yellow_percent = \"0\"")
                .replace("blue_percent = \"1\"", "blue_percent = \"0\""),
        )
        .unwrap()
    }

    struct Fixture {
        tariff: Tariff,
        sanitary: ReferralTable,
        licences: ReferralTable,
        risk: RiskProfiles,
    }

    impl Fixture {
        fn new(tariff: Tariff) -> Self {
            Self {
                tariff,
                sanitary: ReferralTable::sanitary().unwrap(),
                licences: ReferralTable::licences().unwrap(),
                risk: no_random_risk(),
            }
        }

        fn rules(&self) -> Rules<'_> {
            Rules {
                tariff: &self.tariff,
                sanitary: &self.sanitary,
                licences: &self.licences,
                risk: &self.risk,
            }
        }

        fn assess(&self, declaration: &Declaration) -> Assessment {
            assess(declaration, &self.rules(), 1).unwrap()
        }
    }

    fn money(currency: &str, value: &str) -> Amount {
        Amount {
            currency: Currency::parse(currency).unwrap(),
            value: value.parse().unwrap(),
        }
    }

    fn eur(value: &str) -> Amount {
        money("EUR", value)
    }

    fn tariff_with(duty: &str, vat: &str) -> Tariff {
        let text = DEFAULT_TARIFF
            .replace(
                "default_duty_rate_percent = \"4\"",
                &format!("default_duty_rate_percent = \"{duty}\""),
            )
            .replace(
                "vat_rate_percent = \"22\"",
                &format!("vat_rate_percent = \"{vat}\""),
            );
        Tariff::from_toml(&text).unwrap()
    }

    fn item(code: &str, invoice: &str, freight: &str) -> GoodsItem {
        GoodsItem {
            commodity_code: CommodityCode::parse(code).unwrap(),
            origin_country: "CHN".into(),
            quantity: None,
            net_mass_kg: None,
            invoice_value: eur(invoice),
            freight_and_insurance: Some(eur(freight)),
            classification_verified: true,
        }
    }

    fn declaration(procedure: Procedure, goods: Vec<GoodsItem>) -> Declaration {
        Declaration {
            trader: Some(Trader {
                eori: Eori::parse("RS100200300").unwrap(),
                authorised_economic_operator: false,
            }),
            procedure,
            transport: Transport::Road,
            crossing_point: "HR-BAJAKOVO".into(),
            crossing_date: "2026-07-15".parse().unwrap(),
            traveller_under_15: false,
            goods,
            cash: Vec::new(),
        }
    }

    fn import(goods: Vec<GoodsItem>) -> Declaration {
        declaration(Procedure::Import, goods)
    }

    #[test]
    fn ucc_art_70_worked_example_cif_500_plus_100_at_2_5_percent_and_vat_23_percent() {
        let fixture = Fixture::new(tariff_with("2.5", "23"));
        let result = fixture.assess(&import(vec![item("950300", "500", "100")]));
        let item = &result.items[0];
        assert_eq!(item.customs_value, eur("600"));
        assert_eq!(item.duty.value.to_string(), "15.00");
        assert_eq!(item.vat_base.value.to_string(), "615.00");
        assert_eq!(item.vat.value.to_string(), "141.45");
        assert_eq!(item.duty_measure, "2.5 %");
        assert_eq!(item.exchange_rate, None);
    }

    #[test]
    fn amounts_round_half_away_from_zero_to_the_cent() {
        // 2.5 % of 160.10 = 4.0025 -> 4.00; 0.5 % of 151.00 = 0.755 -> 0.76
        let fixture = Fixture::new(tariff_with("2.5", "0"));
        let result = fixture.assess(&import(vec![item("950300", "160.10", "0")]));
        assert_eq!(result.items[0].duty, eur("4.00"));
        let fixture = Fixture::new(tariff_with("0.5", "0"));
        let result = fixture.assess(&import(vec![item("950300", "151.00", "0")]));
        assert_eq!(result.items[0].duty, eur("0.76"));
    }

    #[test]
    fn duties_due_clear_with_conditions_and_totals_add_up() {
        let fixture = Fixture::new(tariff_with("2.5", "23"));
        let goods = vec![item("950300", "500", "100"), item("950300", "500", "100")];
        let result = fixture.assess(&import(goods));
        assert_eq!(result.verdict, Verdict::ClearWithConditions);
        assert_eq!(result.total_duty.to_string(), "30.00");
        assert_eq!(result.total_vat.to_string(), "282.90");
    }

    #[test]
    fn ucc_art_53_a_foreign_value_is_converted_at_the_rate_in_force_on_the_day() {
        let fixture = Fixture::new(tariff_with("2.5", "23"));
        let mut dollars = item("950300", "585", "117");
        dollars.invoice_value = money("USD", "585");
        dollars.freight_and_insurance = Some(money("USD", "117"));
        // 702 USD at 1.17 USD per EUR = 600 EUR on 15 July 2026.
        let result = fixture.assess(&import(vec![dollars.clone()]));
        assert_eq!(result.items[0].customs_value, eur("600.00"));
        assert_eq!(result.items[0].duty, eur("15.00"));
        assert_eq!(result.items[0].exchange_rate, Some(Decimal::new(117, 2)));
        assert_eq!(result.rates_date.to_string(), "2026-07-01");
        // 702 USD at 1.15 = 610.43 EUR from 1 November.
        let mut november = import(vec![dollars.clone()]);
        november.crossing_date = "2026-11-28".parse().unwrap();
        let result = fixture.assess(&november);
        assert_eq!(result.items[0].customs_value, eur("610.43"));
        let mut yen = dollars;
        yen.invoice_value = money("JPY", "100000");
        yen.freight_and_insurance = None;
        let problems = assess(&import(vec![yen]), &fixture.rules(), 1).unwrap_err();
        assert_eq!(problems[0].field, "items[0].invoice_value.currency_code");
    }

    #[test]
    fn cn_specific_and_mixed_duties_read_the_quantity_and_excise_enters_the_vat_base() {
        let fixture = Fixture::new(Tariff::from_toml(DEFAULT_TARIFF).unwrap());
        // Sugar: 41.9 EUR / 100 kg of 2 000 kg = 838.00, whatever the value.
        let mut sugar = item("170199", "1000", "0");
        sugar.net_mass_kg = Some(Decimal::from(2000));
        let result = fixture.assess(&import(vec![sugar.clone()]));
        assert_eq!(result.items[0].duty, eur("838.00"));
        assert_eq!(result.items[0].duty_measure, "41.9 EUR / 100 KGM");
        sugar.net_mass_kg = None;
        let problems = assess(&import(vec![sugar]), &fixture.rules(), 1).unwrap_err();
        assert_eq!(problems[0].field, "items[0].quantity");
        // Chocolate: 8.3 % + 25.2 EUR / 100 kg, at most 70 EUR / 100 kg.
        let mut chocolate = item("180690", "10000", "0");
        chocolate.net_mass_kg = Some(Decimal::from(1000));
        let result = fixture.assess(&import(vec![chocolate]));
        // 830 + 252 = 1082, capped at 700.
        assert_eq!(result.items[0].duty, eur("700.00"));
        // Whisky: 4 % duty on 1 000 = 40.00; excise 14 EUR / l of 50 l = 700.00; VAT 22 % of 1 740.
        let mut whisky = item("220830", "1000", "0");
        whisky.quantity = Some((Decimal::from(50), "LTR".into()));
        let result = fixture.assess(&import(vec![whisky]));
        let whisky = &result.items[0];
        assert_eq!(
            (
                whisky.duty.value,
                whisky.excise.value,
                whisky.vat_base.value
            ),
            (
                Decimal::new(4000, 2),
                Decimal::new(70000, 2),
                Decimal::new(174000, 2)
            )
        );
        assert_eq!(whisky.vat, eur("382.80"));
        assert_eq!(result.total_excise.to_string(), "700.00");
    }

    #[test]
    fn regulation_1186_2009_art_23_negligible_value_is_relieved_of_duty_but_not_vat() {
        let fixture = Fixture::new(Tariff::from_toml(DEFAULT_TARIFF).unwrap());
        let result = fixture.assess(&import(vec![item("950300", "150", "20")]));
        assert_eq!(result.items[0].duty, eur("0.00"));
        assert_eq!(result.items[0].relief, Some(Relief::DeMinimisDuty));
        // VAT on the CIF value 170.00 at 22 %.
        assert_eq!(result.items[0].vat, eur("37.40"));
        let over = fixture.assess(&import(vec![item("950300", "150.01", "0")]));
        assert_eq!(over.items[0].relief, None);
        // Art. 24: tobacco is never relieved.
        let mut cigarettes = item("240220", "100", "0");
        cigarettes.quantity = Some((Decimal::from(200), "NAR".into()));
        let result = fixture.assess(&import(vec![cigarettes]));
        assert_eq!(result.items[0].relief, None);
    }

    #[test]
    fn directive_2007_74_art_7_allowance_depends_on_the_means_of_transport_and_age() {
        let fixture = Fixture::new(Tariff::from_toml(DEFAULT_TARIFF).unwrap());
        let luggage = |transport, under_15, value: &str| {
            let mut declaration =
                declaration(Procedure::PersonalLuggage, vec![item("950300", value, "0")]);
            declaration.transport = transport;
            declaration.traveller_under_15 = under_15;
            fixture.assess(&declaration).items[0].relief
        };
        let relieved = Some(Relief::TravellerAllowance);
        assert_eq!(luggage(Transport::Air, false, "430"), relieved);
        assert_eq!(luggage(Transport::Air, false, "430.01"), None);
        assert_eq!(luggage(Transport::Road, false, "300"), relieved);
        assert_eq!(luggage(Transport::Road, false, "300.01"), None);
        assert_eq!(luggage(Transport::Air, true, "150"), relieved);
        assert_eq!(luggage(Transport::Air, true, "150.01"), None);
    }

    #[test]
    fn directive_2007_74_art_7_2_an_item_is_not_split_and_later_items_may_still_fit() {
        let fixture = Fixture::new(Tariff::from_toml(DEFAULT_TARIFF).unwrap());
        let result = fixture.assess(&declaration(
            Procedure::PersonalLuggage,
            vec![
                item("950300", "200", "0"),
                item("950300", "250", "0"),
                item("950300", "100", "0"),
            ],
        ));
        let reliefs: Vec<_> = result.items.iter().map(|i| i.relief).collect();
        let relieved = Some(Relief::TravellerAllowance);
        assert_eq!(reliefs, [relieved, None, relieved]);
        // Only the 250 item is taxed: 4 % duty = 10.00, VAT 22 % of 260 = 57.20.
        assert_eq!(result.total_duty.to_string(), "10.00");
        assert_eq!(result.total_vat.to_string(), "57.20");
        assert!(
            result
                .findings
                .iter()
                .any(|f| f.code == "TRAVELLER_ALLOWANCE")
        );
    }

    #[test]
    fn directive_2007_74_art_8_9_tobacco_and_alcohol_pass_within_their_quantities() {
        let fixture = Fixture::new(Tariff::from_toml(DEFAULT_TARIFF).unwrap());
        let cigarettes = |count: i64| {
            let mut cigarettes = item("240220", "60", "0");
            cigarettes.quantity = Some((Decimal::from(count), "NAR".into()));
            cigarettes
        };
        let luggage = |goods| fixture.assess(&declaration(Procedure::PersonalLuggage, goods));
        let within = luggage(vec![cigarettes(200), item("950300", "300", "0")]);
        assert!(within.items.iter().all(|i| i.relief.is_some()));
        let above = luggage(vec![cigarettes(100), cigarettes(200)]);
        assert_eq!(above.items[0].relief, Some(Relief::TravellerAllowance));
        assert_eq!(above.items[1].relief, None);
        assert!(above.items[1].excise.value > Decimal::ZERO);
        let mut uncounted = cigarettes(1);
        uncounted.quantity = None;
        let problems = assess(
            &declaration(Procedure::PersonalLuggage, vec![uncounted]),
            &fixture.rules(),
            1,
        )
        .unwrap_err();
        assert_eq!(problems[0].field, "items[0].quantity");
    }

    #[test]
    fn ucc_art_77_exports_and_transit_incur_no_import_duty() {
        let fixture = Fixture::new(Tariff::from_toml(DEFAULT_TARIFF).unwrap());
        for procedure in [Procedure::Export, Procedure::Transit] {
            let result = fixture.assess(&declaration(procedure, vec![item("950300", "5000", "0")]));
            assert_eq!(result.total_duty + result.total_vat, Decimal::ZERO);
            assert_eq!(result.verdict, Verdict::Clear);
            assert!(
                result
                    .findings
                    .iter()
                    .any(|f| f.code == "NOT_FOR_FREE_CIRCULATION")
            );
        }
    }

    #[test]
    fn regulation_2017_625_meat_is_referred_to_the_sanitary_service_as_ched_p() {
        let fixture = Fixture::new(Tariff::from_toml(DEFAULT_TARIFF).unwrap());
        let result = fixture.assess(&import(vec![item("020230", "40000", "1500")]));
        assert_eq!(result.referrals.len(), 1);
        assert_eq!(result.referrals[0].kind, ReferralKind::Sanitary);
        assert_eq!(result.referrals[0].document_type, "CHED-P");
        assert_eq!(result.items[0].duty.value.to_string(), "5312.00");
        assert_eq!(result.selection.lane, Lane::Green);
    }

    #[test]
    fn ucc_art_57_unverified_classification_is_reported_once_for_all_items() {
        let fixture = Fixture::new(Tariff::from_toml(DEFAULT_TARIFF).unwrap());
        let mut unverified = item("950300", "500", "0");
        unverified.classification_verified = false;
        let result = fixture.assess(&import(vec![unverified.clone(), unverified]));
        let reasons: Vec<_> = result
            .findings
            .iter()
            .filter(|f| f.code == "CLASSIFICATION_UNVERIFIED")
            .collect();
        assert_eq!(reasons.len(), 1);
        assert!(reasons[0].message.contains("2 commodity code(s)"));
        assert!(result.items.iter().all(|i| !i.classification_verified));
    }

    #[test]
    fn cites_goods_get_a_licence_referral_and_a_condition() {
        let fixture = Fixture::new(Tariff::from_toml(DEFAULT_TARIFF).unwrap());
        let result = fixture.assess(&declaration(
            Procedure::PersonalLuggage,
            vec![item("960110", "100", "0")],
        ));
        assert_eq!(result.referrals[0].kind, ReferralKind::Licence);
        assert_eq!(result.referrals[0].document_type, "CITES");
        assert_eq!(result.verdict, Verdict::ClearWithConditions);
        assert!(result.findings.iter().any(|f| f.code == "LICENCE_REQUIRED"));
    }

    #[test]
    fn a_red_lane_refers_and_names_its_rules() {
        let fixture = Fixture::new(Tariff::from_toml(DEFAULT_TARIFF).unwrap());
        let mut cigarettes = item("240220", "50000", "0");
        cigarettes.quantity = Some((Decimal::from(500_000), "NAR".into()));
        cigarettes.net_mass_kg = Some(Decimal::from(600));
        let result = fixture.assess(&import(vec![cigarettes]));
        assert_eq!(result.selection.lane, Lane::Red);
        assert_eq!(result.verdict, Verdict::Refer);
        let lane = result
            .findings
            .iter()
            .find(|f| f.code == "LANE_RED")
            .unwrap();
        assert_eq!(lane.rule_id, "RP-TOBACCO-01");
        assert!(
            lane.message.contains("rule set 2026.07-1"),
            "{}",
            lane.message
        );
    }

    #[test]
    fn a_yellow_lane_sets_a_documentary_check_as_condition() {
        let fixture = Fixture::new(Tariff::from_toml(DEFAULT_TARIFF).unwrap());
        let result = fixture.assess(&import(vec![item("870323", "9000", "500")]));
        assert_eq!(result.selection.lane, Lane::Yellow);
        assert_eq!(result.selection.rule_ids(), ["RP-VEHICLES-01"]);
        assert!(
            result
                .findings
                .iter()
                .any(|f| f.code == "LANE_YELLOW" && f.verdict == Verdict::ClearWithConditions)
        );
    }
}
