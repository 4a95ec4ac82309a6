//! A country's tariff: duty rates by commodity code prefix, VAT, limits and exchange rates.
//! Tariffs are data files, loaded at start.

use std::collections::{BTreeMap, HashMap};

use bordermesh_kit::validate::Currency;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;

/// The example tariff `bordermesh up` uses when none is configured.
pub const DEFAULT_TARIFF: &str = include_str!("../../data/default-tariff.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TariffFile {
    currency: String,
    vat_rate_percent: Decimal,
    default_duty_rate_percent: Decimal,
    max_items: usize,
    cash_declaration_threshold: Decimal,
    duty_rates: BTreeMap<String, Decimal>,
    exchange_rates: ExchangeRateFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExchangeRateFile {
    date: NaiveDate,
    rates: BTreeMap<String, Decimal>,
}

#[derive(Debug, Clone)]
pub struct Tariff {
    pub currency: Currency,
    pub vat_rate_percent: Decimal,
    pub default_duty_rate_percent: Decimal,
    pub max_items: usize,
    pub cash_declaration_threshold: Decimal,
    duty_rates: HashMap<String, Decimal>,
    pub rates_date: NaiveDate,
    /// Units of each currency per one unit of the tariff currency.
    rates: HashMap<Currency, Decimal>,
}

impl Tariff {
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let file: TariffFile = toml::from_str(text)?;
        let currency = Currency::parse(&file.currency)
            .ok_or_else(|| anyhow::anyhow!("tariff currency {} is not ISO 4217", file.currency))?;
        for (prefix, rate) in &file.duty_rates {
            anyhow::ensure!(
                !prefix.is_empty()
                    && prefix.len() <= 10
                    && prefix.bytes().all(|b| b.is_ascii_digit()),
                "duty rate prefix {prefix:?} is not a commodity code prefix"
            );
            anyhow::ensure!(*rate >= Decimal::ZERO, "duty rate for {prefix} is negative");
        }
        let mut rates = HashMap::new();
        for (code, rate) in file.exchange_rates.rates {
            let foreign = Currency::parse(&code)
                .ok_or_else(|| anyhow::anyhow!("exchange rate currency {code} is not ISO 4217"))?;
            anyhow::ensure!(
                rate > Decimal::ZERO,
                "exchange rate for {code} must be positive"
            );
            rates.insert(foreign, rate);
        }
        Ok(Self {
            currency,
            vat_rate_percent: file.vat_rate_percent,
            default_duty_rate_percent: file.default_duty_rate_percent,
            max_items: file.max_items,
            cash_declaration_threshold: file.cash_declaration_threshold,
            duty_rates: file.duty_rates.into_iter().collect(),
            rates_date: file.exchange_rates.date,
            rates,
        })
    }

    /// The ad valorem duty rate of the longest prefix of `code` the tariff lists.
    pub fn duty_rate_percent(&self, code: &str) -> Decimal {
        (1..=code.len())
            .rev()
            .find_map(|len| self.duty_rates.get(&code[..len]))
            .copied()
            .unwrap_or(self.default_duty_rate_percent)
    }

    /// Converts an amount into the tariff currency at the dated rate, if the rate is known.
    pub fn to_tariff_currency(&self, currency: Currency, amount: Decimal) -> Option<Decimal> {
        if currency == self.currency {
            return Some(amount);
        }
        self.rates.get(&currency).map(|rate| amount / rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_tariff_loads() {
        let tariff = Tariff::from_toml(DEFAULT_TARIFF).unwrap();
        assert_eq!(tariff.currency.as_str(), "EUR");
        assert_eq!(tariff.duty_rate_percent("0202309000"), Decimal::new(128, 1));
        assert_eq!(tariff.duty_rate_percent("9999999999"), Decimal::new(4, 0));
    }

    #[test]
    fn the_longest_prefix_wins() {
        let tariff = Tariff::from_toml(
            &DEFAULT_TARIFF.replace("\"02\" = \"12.8\"", "\"02\" = \"12.8\"\n\"0202\" = \"5\""),
        )
        .unwrap();
        assert_eq!(tariff.duty_rate_percent("020230"), Decimal::new(5, 0));
        assert_eq!(tariff.duty_rate_percent("020110"), Decimal::new(128, 1));
    }

    #[test]
    fn amounts_convert_at_the_dated_rate() {
        let tariff = Tariff::from_toml(DEFAULT_TARIFF).unwrap();
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(
            tariff.to_tariff_currency(usd, Decimal::new(11700, 0)),
            Some(Decimal::new(10000, 0))
        );
        assert_eq!(
            tariff.to_tariff_currency(Currency::parse("JPY").unwrap(), Decimal::ONE),
            None
        );
    }
}
