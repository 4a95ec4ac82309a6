//! Cash controls (Regulation (EU) 2018/1672): what counts as cash, the declaration threshold
//! per carrier, and the records made for the financial intelligence unit.

use std::collections::BTreeMap;

use bordermesh_kit::validate::Amount;
use rust_decimal::Decimal;

use super::{
    Finding, Verdict,
    tariff::{ExchangeRates, Tariff},
};

/// Art. 2(1)(a) and Annex I: the forms of cash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CashKind {
    Currency,
    BearerNegotiableInstrument,
    GoldCoin,
    GoldBar,
}

impl CashKind {
    fn label(self) -> &'static str {
        match self {
            CashKind::Currency => "currency",
            CashKind::BearerNegotiableInstrument => "bearer-negotiable instruments",
            CashKind::GoldCoin => "gold coins",
            CashKind::GoldBar => "gold bars",
        }
    }

    /// Annex I: gold coins count as cash at a gold content of at least 90 %, bars, nuggets and
    /// clumps at 99.5 %.
    pub fn minimum_fineness(self) -> Option<Decimal> {
        match self {
            CashKind::GoldCoin => Some(Decimal::new(90, 2)),
            CashKind::GoldBar => Some(Decimal::new(995, 3)),
            CashKind::Currency | CashKind::BearerNegotiableInstrument => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CashCarried {
    pub traveller_reference: String,
    pub kind: CashKind,
    pub amount: Amount,
    /// Gold content as a fraction, for gold only.
    pub gold_fineness: Option<Decimal>,
    pub declared: bool,
    /// What the carrier declared, when it differs from `amount`.
    pub declared_amount: Option<Amount>,
}

impl CashCarried {
    /// Whether this counts as cash under Art. 2(1)(a): gold below the Annex I fineness is a
    /// commodity, not cash.
    pub fn counts_as_cash(&self) -> bool {
        match self.kind.minimum_fineness() {
            Some(minimum) => self
                .gold_fineness
                .is_some_and(|fineness| fineness >= minimum),
            None => true,
        }
    }
}

/// How a carrier at or above the threshold stood with the obligation to declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compliance {
    Declared,
    Undeclared,
    /// Art. 3(2) and 5(3): declared, but incorrectly or incompletely.
    WronglyDeclared,
}

impl Compliance {
    pub fn code(self) -> &'static str {
        match self {
            Compliance::Declared => "DECLARED",
            Compliance::Undeclared => "UNDECLARED",
            Compliance::WronglyDeclared => "WRONGLY_DECLARED",
        }
    }
}

/// Art. 9: what the competent authority records and passes to the financial intelligence unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiuRecord {
    pub traveller_reference: String,
    pub compliance: Compliance,
    /// Value carried, in the tariff currency at the day's rate.
    pub value: Decimal,
    /// Value declared, in the tariff currency.
    pub declared_value: Decimal,
    /// The forms of cash carried, for example "currency, gold coins".
    pub forms: String,
}

#[derive(Debug, Clone, Default)]
pub struct CashControl {
    pub findings: Vec<Finding>,
    pub fiu_records: Vec<FiuRecord>,
}

#[derive(Default)]
struct Carrier {
    value: Decimal,
    declared_value: Decimal,
    undeclared_part: bool,
    forms: Vec<&'static str>,
}

const RULE: &str = "REG-2018-1672-ART-3";

/// Art. 3: a carrier of cash worth the threshold or more, all forms added up at the day's
/// rate, must declare all of it; an undeclared or wrongly declared amount refers the carrier,
/// and Art. 9 has every carrier at or above the threshold recorded for the FIU.
pub fn control(cash: &[CashCarried], tariff: &Tariff, rates: &ExchangeRates) -> CashControl {
    let mut outcome = CashControl::default();
    let mut carriers: BTreeMap<&str, Carrier> = BTreeMap::new();
    let in_tariff_currency =
        |amount: &Amount| rates.rate(amount.currency).map(|rate| amount.value / rate);
    for (index, carried) in cash.iter().enumerate() {
        if !carried.counts_as_cash() {
            continue;
        }
        let Some(value) = in_tariff_currency(&carried.amount) else {
            outcome.findings.push(Finding {
                verdict: Verdict::Refer,
                code: "CASH_RATE_UNKNOWN",
                rule_id: RULE.into(),
                message: format!(
                    "no exchange rate for {} on {}: an officer must value the cash",
                    carried.amount.currency, rates.date
                ),
                subject: format!("cash[{index}]"),
            });
            continue;
        };
        let carrier = carriers
            .entry(carried.traveller_reference.as_str())
            .or_default();
        carrier.value += value;
        if carried.declared {
            // The declared amount is in the currency carried (checked when the request is read).
            carrier.declared_value += carried
                .declared_amount
                .as_ref()
                .and_then(in_tariff_currency)
                .unwrap_or(value);
        } else {
            carrier.undeclared_part = true;
        }
        if !carrier.forms.contains(&carried.kind.label()) {
            carrier.forms.push(carried.kind.label());
        }
    }
    for (traveller, carrier) in carriers {
        if carrier.value < tariff.cash_declaration_threshold {
            continue;
        }
        let compliance = if carrier.declared_value.is_zero() {
            Compliance::Undeclared
        } else if carrier.undeclared_part || carrier.declared_value < carrier.value {
            Compliance::WronglyDeclared
        } else {
            Compliance::Declared
        };
        let value = tariff.currency.round(carrier.value);
        let forms = carrier.forms.join(", ");
        match compliance {
            Compliance::Declared => {}
            Compliance::Undeclared => outcome.findings.push(Finding {
                verdict: Verdict::Refer,
                code: "CASH_UNDECLARED",
                rule_id: RULE.into(),
                message: format!(
                    "undeclared cash ({forms}) carried by {traveller} worth {value} {} reaches the declaration threshold of {}",
                    tariff.currency, tariff.cash_declaration_threshold
                ),
                subject: "cash".into(),
            }),
            Compliance::WronglyDeclared => outcome.findings.push(Finding {
                verdict: Verdict::Refer,
                code: "CASH_WRONGLY_DECLARED",
                rule_id: RULE.into(),
                message: format!(
                    "{traveller} carries cash ({forms}) worth {value} {} but declared {} {}",
                    tariff.currency,
                    tariff.currency.round(carrier.declared_value),
                    tariff.currency
                ),
                subject: "cash".into(),
            }),
        }
        outcome.fiu_records.push(FiuRecord {
            traveller_reference: traveller.to_owned(),
            compliance,
            value,
            declared_value: tariff.currency.round(carrier.declared_value),
            forms,
        });
    }
    outcome
}

#[cfg(test)]
mod tests {
    use bordermesh_kit::validate::Currency;

    use super::*;
    use crate::domain::tariff::DEFAULT_TARIFF;

    fn money(currency: &str, value: &str) -> Amount {
        Amount {
            currency: Currency::parse(currency).unwrap(),
            value: value.parse().unwrap(),
        }
    }

    fn carried(kind: CashKind, value: &str, declared: bool) -> CashCarried {
        CashCarried {
            traveller_reference: "driver".into(),
            kind,
            amount: money("EUR", value),
            gold_fineness: None,
            declared,
            declared_amount: None,
        }
    }

    fn run(cash: &[CashCarried]) -> CashControl {
        let tariff = Tariff::from_toml(DEFAULT_TARIFF).unwrap();
        let rates = tariff
            .rates_on("2026-07-15".parse().unwrap())
            .unwrap()
            .clone();
        control(cash, &tariff, &rates)
    }

    fn codes(outcome: &CashControl) -> Vec<&'static str> {
        outcome.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn regulation_2018_1672_art_3_undeclared_cash_of_10000_euro_is_referred() {
        assert!(
            run(&[carried(CashKind::Currency, "9999.99", false)])
                .findings
                .is_empty()
        );
        let split = run(&[
            carried(CashKind::Currency, "6000", false),
            carried(CashKind::Currency, "4000", false),
        ]);
        assert_eq!(codes(&split), ["CASH_UNDECLARED"]);
        assert_eq!(split.fiu_records[0].compliance, Compliance::Undeclared);
        assert_eq!(split.fiu_records[0].value.to_string(), "10000.00");
        let dollars = CashCarried {
            amount: money("USD", "11700"),
            ..carried(CashKind::Currency, "0", false)
        };
        assert_eq!(codes(&run(&[dollars])), ["CASH_UNDECLARED"]);
    }

    #[test]
    fn art_9_a_proper_declaration_passes_and_is_still_recorded_for_the_fiu() {
        let declared = run(&[carried(CashKind::Currency, "25000", true)]);
        assert!(declared.findings.is_empty());
        assert_eq!(declared.fiu_records.len(), 1);
        assert_eq!(declared.fiu_records[0].compliance, Compliance::Declared);
    }

    #[test]
    fn art_3_a_declaration_below_the_value_carried_is_wrong() {
        let short = CashCarried {
            declared_amount: Some(money("EUR", "12000")),
            ..carried(CashKind::Currency, "30000", true)
        };
        let outcome = run(&[short]);
        assert_eq!(codes(&outcome), ["CASH_WRONGLY_DECLARED"]);
        assert_eq!(
            outcome.fiu_records[0].declared_value.to_string(),
            "12000.00"
        );
        let incomplete = run(&[
            carried(CashKind::Currency, "10000", true),
            carried(CashKind::BearerNegotiableInstrument, "5000", false),
        ]);
        assert_eq!(codes(&incomplete), ["CASH_WRONGLY_DECLARED"]);
        assert!(
            incomplete.fiu_records[0]
                .forms
                .contains("bearer-negotiable")
        );
    }

    #[test]
    fn annex_i_gold_counts_as_cash_from_90_percent_coins_and_99_5_percent_bars() {
        let gold = |kind, fineness: &str| CashCarried {
            gold_fineness: Some(fineness.parse().unwrap()),
            ..carried(kind, "6000", false)
        };
        let coins_and_notes = [
            gold(CashKind::GoldCoin, "0.9167"),
            carried(CashKind::Currency, "4000", false),
        ];
        assert_eq!(codes(&run(&coins_and_notes)), ["CASH_UNDECLARED"]);
        let jewellery_gold = [
            gold(CashKind::GoldCoin, "0.585"),
            carried(CashKind::Currency, "4000", false),
        ];
        assert!(run(&jewellery_gold).findings.is_empty());
        let bars = [
            gold(CashKind::GoldBar, "0.995"),
            carried(CashKind::Currency, "4000", false),
        ];
        assert_eq!(codes(&run(&bars)), ["CASH_UNDECLARED"]);
        let impure_bar = [
            gold(CashKind::GoldBar, "0.99"),
            carried(CashKind::Currency, "4000", false),
        ];
        assert!(run(&impure_bar).findings.is_empty());
    }

    #[test]
    fn the_threshold_applies_per_carrier() {
        let other = CashCarried {
            traveller_reference: "passenger".into(),
            ..carried(CashKind::Currency, "6000", false)
        };
        assert!(
            run(&[carried(CashKind::Currency, "6000", false), other])
                .findings
                .is_empty()
        );
    }

    #[test]
    fn cash_in_a_currency_without_a_rate_is_valued_by_an_officer() {
        let yen = CashCarried {
            amount: money("JPY", "2000000"),
            ..carried(CashKind::Currency, "0", false)
        };
        assert_eq!(codes(&run(&[yen])), ["CASH_RATE_UNKNOWN"]);
    }
}
