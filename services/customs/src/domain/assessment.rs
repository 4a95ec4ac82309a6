//! The assessment of one declaration: customs value, duty and VAT per item in decimal
//! arithmetic, cash controls, and referrals to the sanitary service.

use std::collections::BTreeMap;

use bordermesh_kit::validate::{Amount, Currency};
use rust_decimal::Decimal;

use super::{commodity::CommodityCode, referral::SanitaryReferrals, tariff::Tariff};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Clear,
    ClearWithConditions,
    Refer,
}

#[derive(Debug, Clone)]
pub struct GoodsItem {
    pub commodity_code: CommodityCode,
    pub invoice_value: Amount,
    /// Same currency as the invoice value (checked when the request is read).
    pub freight_and_insurance: Option<Amount>,
    pub classification_verified: bool,
}

#[derive(Debug, Clone)]
pub struct CashCarried {
    pub traveller_reference: String,
    pub amount: Amount,
    pub declared: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemAssessment {
    pub customs_value: Amount,
    pub duty_rate_percent: Decimal,
    pub duty: Amount,
    pub vat_rate_percent: Decimal,
    pub vat_base: Amount,
    pub vat: Amount,
    pub classification_verified: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    pub item_index: usize,
    pub commodity_code: String,
    pub document_type: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub verdict: Verdict,
    pub code: &'static str,
    pub rule_id: &'static str,
    pub message: String,
    pub subject: String,
}

#[derive(Debug, Clone)]
pub struct Assessment {
    pub verdict: Verdict,
    pub items: Vec<ItemAssessment>,
    pub total_duty: BTreeMap<Currency, Decimal>,
    pub total_vat: BTreeMap<Currency, Decimal>,
    pub referrals: Vec<Referral>,
    pub findings: Vec<Finding>,
}

/// Amounts due are rounded to the currency's minor unit, half away from zero.
fn percent_of(currency: Currency, base: Decimal, rate_percent: Decimal) -> Decimal {
    currency.round(base * rate_percent / Decimal::ONE_HUNDRED)
}

/// UCC Art. 70-71: the customs value is the transaction value plus freight and insurance to the
/// point of entry (CIF). Duty is ad valorem on it; VAT (Directive 2006/112/EC Art. 85-86) on the
/// customs value plus duty.
pub fn assess_item(item: &GoodsItem, tariff: &Tariff) -> ItemAssessment {
    let currency = item.invoice_value.currency;
    let freight = item
        .freight_and_insurance
        .map_or(Decimal::ZERO, |f| f.value);
    let customs_value = item.invoice_value.value + freight;
    let duty_rate_percent = tariff.duty_rate_percent(item.commodity_code.as_str());
    let duty = percent_of(currency, customs_value, duty_rate_percent);
    let vat_base = customs_value + duty;
    let vat = percent_of(currency, vat_base, tariff.vat_rate_percent);
    let amount = |value| Amount { currency, value };
    ItemAssessment {
        customs_value: amount(customs_value),
        duty_rate_percent,
        duty: amount(duty),
        vat_rate_percent: tariff.vat_rate_percent,
        vat_base: amount(vat_base),
        vat: amount(vat),
        classification_verified: item.classification_verified,
    }
}

pub fn assess(
    goods: &[GoodsItem],
    cash: &[CashCarried],
    tariff: &Tariff,
    sanitary: &SanitaryReferrals,
) -> Assessment {
    let items: Vec<ItemAssessment> = goods.iter().map(|item| assess_item(item, tariff)).collect();
    let mut total_duty = BTreeMap::new();
    let mut total_vat = BTreeMap::new();
    for item in &items {
        *total_duty
            .entry(item.duty.currency)
            .or_insert(Decimal::ZERO) += item.duty.value;
        *total_vat.entry(item.vat.currency).or_insert(Decimal::ZERO) += item.vat.value;
    }
    let mut findings = Vec::new();
    if total_duty
        .values()
        .chain(total_vat.values())
        .any(|v| *v > Decimal::ZERO)
    {
        findings.push(Finding {
            verdict: Verdict::ClearWithConditions,
            code: "DUTIES_DUE",
            rule_id: "UCC-ART-77",
            message: "import duty and VAT are to be paid before release".into(),
            subject: "items".into(),
        });
    }
    for (index, item) in goods.iter().enumerate() {
        if !item.classification_verified {
            findings.push(Finding {
                verdict: Verdict::Clear,
                code: "CLASSIFICATION_UNVERIFIED",
                rule_id: "UCC-ART-57",
                message: "no nomenclature is configured: only the code's format was checked".into(),
                subject: format!("items[{index}].commodity_code"),
            });
        }
    }
    findings.extend(cash_findings(cash, tariff));
    let referrals = goods
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            sanitary
                .rule_for(item.commodity_code.as_str())
                .map(|rule| Referral {
                    item_index: index,
                    commodity_code: item.commodity_code.as_str().to_owned(),
                    document_type: rule.document_type.clone(),
                    reason: rule.reason.clone(),
                })
        })
        .collect();
    let verdict = findings
        .iter()
        .map(|f| f.verdict)
        .max()
        .unwrap_or(Verdict::Clear);
    Assessment {
        verdict,
        items,
        total_duty,
        total_vat,
        referrals,
        findings,
    }
}

/// Regulation (EU) 2018/1672 Art. 3: a carrier of cash worth the threshold or more must declare
/// it; an undeclared amount refers the carrier to customs' second line.
fn cash_findings(cash: &[CashCarried], tariff: &Tariff) -> Vec<Finding> {
    let mut undeclared: BTreeMap<&str, Decimal> = BTreeMap::new();
    let mut findings = Vec::new();
    for (index, carried) in cash.iter().enumerate() {
        if carried.declared {
            continue;
        }
        match tariff.to_tariff_currency(carried.amount.currency, carried.amount.value) {
            Some(value) => {
                *undeclared
                    .entry(carried.traveller_reference.as_str())
                    .or_insert(Decimal::ZERO) += value;
            }
            None => findings.push(Finding {
                verdict: Verdict::Refer,
                code: "CASH_RATE_UNKNOWN",
                rule_id: "REG-2018-1672-ART-3",
                message: format!(
                    "no exchange rate for {} on {}: an officer must value the cash",
                    carried.amount.currency, tariff.rates_date
                ),
                subject: format!("cash[{index}]"),
            }),
        }
    }
    for (traveller, value) in undeclared {
        if value >= tariff.cash_declaration_threshold {
            findings.push(Finding {
                verdict: Verdict::Refer,
                code: "CASH_UNDECLARED",
                rule_id: "REG-2018-1672-ART-3",
                message: format!(
                    "undeclared cash carried by {traveller} worth {} {} reaches the declaration threshold of {}",
                    tariff.currency.round(value),
                    tariff.currency,
                    tariff.cash_declaration_threshold
                ),
                subject: "cash".into(),
            });
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tariff::DEFAULT_TARIFF;

    fn eur(value: &str) -> Amount {
        Amount {
            currency: Currency::parse("EUR").unwrap(),
            value: value.parse().unwrap(),
        }
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
            invoice_value: eur(invoice),
            freight_and_insurance: Some(eur(freight)),
            classification_verified: true,
        }
    }

    #[test]
    fn ucc_art_70_worked_example_cif_500_plus_100_at_2_5_percent_and_vat_23_percent() {
        let tariff = tariff_with("2.5", "23");
        let result = assess_item(&item("950300", "500", "100"), &tariff);
        assert_eq!(result.customs_value, eur("600"));
        assert_eq!(result.duty.value.to_string(), "15.00");
        assert_eq!(result.vat_base.value.to_string(), "615.00");
        assert_eq!(result.vat.value.to_string(), "141.45");
    }

    #[test]
    fn amounts_round_half_away_from_zero_to_the_cent() {
        let tariff = tariff_with("2.5", "0");
        // 0.5 % of 1.00 = 0.005 -> 0.01; 2.5 % of 10.10 = 0.2525 -> 0.25
        assert_eq!(
            assess_item(&item("950300", "10.10", "0"), &tariff).duty,
            eur("0.25")
        );
        let tariff = tariff_with("0.5", "0");
        assert_eq!(
            assess_item(&item("950300", "1.00", "0"), &tariff).duty,
            eur("0.01")
        );
    }

    #[test]
    fn duties_due_clear_with_conditions_and_totals_add_up_per_currency() {
        let tariff = tariff_with("2.5", "23");
        let goods = [item("950300", "500", "100"), item("950300", "500", "100")];
        let referrals = SanitaryReferrals::default_rules().unwrap();
        let result = assess(&goods, &[], &tariff, &referrals);
        assert_eq!(result.verdict, Verdict::ClearWithConditions);
        assert_eq!(
            result.total_duty[&Currency::parse("EUR").unwrap()].to_string(),
            "30.00"
        );
        assert_eq!(
            result.total_vat[&Currency::parse("EUR").unwrap()].to_string(),
            "282.90"
        );
    }

    #[test]
    fn regulation_2017_625_meat_is_referred_to_the_sanitary_service_as_ched_p() {
        let tariff = Tariff::from_toml(DEFAULT_TARIFF).unwrap();
        let referrals = SanitaryReferrals::default_rules().unwrap();
        let result = assess(&[item("020230", "40000", "1500")], &[], &tariff, &referrals);
        assert_eq!(result.referrals.len(), 1);
        assert_eq!(result.referrals[0].document_type, "CHED-P");
        assert_eq!(result.items[0].duty.value.to_string(), "5312.00");
    }

    #[test]
    fn regulation_2018_1672_art_3_undeclared_cash_of_10000_euro_is_referred() {
        let tariff = Tariff::from_toml(DEFAULT_TARIFF).unwrap();
        let referrals = SanitaryReferrals::default_rules().unwrap();
        let carried = |value: &str, declared| CashCarried {
            traveller_reference: "driver".into(),
            amount: eur(value),
            declared,
        };
        let below = assess(&[], &[carried("9999.99", false)], &tariff, &referrals);
        assert_eq!(below.verdict, Verdict::Clear);
        let split = assess(
            &[],
            &[carried("6000", false), carried("4000", false)],
            &tariff,
            &referrals,
        );
        assert_eq!(split.verdict, Verdict::Refer);
        assert_eq!(split.findings[0].code, "CASH_UNDECLARED");
        let declared = assess(&[], &[carried("25000", true)], &tariff, &referrals);
        assert_eq!(declared.verdict, Verdict::Clear);
        let dollars = CashCarried {
            traveller_reference: "driver".into(),
            amount: Amount {
                currency: Currency::parse("USD").unwrap(),
                value: "11700".parse().unwrap(),
            },
            declared: false,
        };
        assert_eq!(
            assess(&[], &[dollars], &tariff, &referrals).verdict,
            Verdict::Refer
        );
    }
}
