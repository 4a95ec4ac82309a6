//! A country's tariff: duty measures by commodity code prefix (ad valorem, specific, mixed, with
//! minimum and maximum), excise, VAT, rounding, de-minimis relief, traveller allowances, limits
//! and dated exchange rates. Tariffs are data files, loaded at start.

use std::collections::{BTreeMap, HashMap};

use bordermesh_kit::validate::Currency;
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
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
    #[serde(default)]
    rounding: RoundingFile,
    de_minimis: DeMinimisFile,
    allowances: AllowancesFile,
    duty_rates: BTreeMap<String, MeasureFile>,
    #[serde(default)]
    excise: BTreeMap<String, MeasureFile>,
    exchange_rates: Vec<ExchangeRateFile>,
    /// Risk profiles file, relative to the tariff file; the built-in example when absent.
    risk_profiles: Option<String>,
}

/// A measure is either a plain ad valorem rate (`"12.8"`) or a table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum MeasureFile {
    AdValorem(Decimal),
    Full(Measure),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoundingFile {
    #[serde(default)]
    mode: RoundingMode,
    /// Decimals kept; the currency's minor unit when absent.
    decimals: Option<u32>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundingMode {
    #[default]
    HalfAwayFromZero,
    HalfEven,
    Down,
    Up,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeMinimisFile {
    duty: Decimal,
    vat: Decimal,
    #[serde(default)]
    excluded_prefixes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowancesFile {
    air_and_sea: Decimal,
    land: Decimal,
    under_15: Decimal,
    #[serde(default)]
    quantity: Vec<QuantityAllowance>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExchangeRateFile {
    date: NaiveDate,
    rates: BTreeMap<String, Decimal>,
}

/// An amount of the tariff currency per `per` units of `unit` (UN/ECE Rec. 20 code), for
/// example 176.80 per 100 KGM.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Specific {
    pub amount: Decimal,
    #[serde(default = "one")]
    pub per: Decimal,
    pub unit: String,
}

fn one() -> Decimal {
    Decimal::ONE
}

/// A duty or excise measure: ad valorem percent plus an optional specific amount, bounded by an
/// optional minimum and maximum (the mixed duties of the Combined Nomenclature).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    #[serde(default)]
    pub ad_valorem_percent: Decimal,
    pub specific: Option<Specific>,
    pub minimum: Option<Specific>,
    pub maximum: Option<Specific>,
}

/// The quantities a specific duty may be charged on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quantities<'a> {
    /// Quantity in the supplementary unit, with its unit code.
    pub supplementary: Option<(Decimal, &'a str)>,
    pub net_mass_kg: Option<Decimal>,
}

impl Quantities<'_> {
    /// The quantity in `unit`: the supplementary quantity when its unit matches, the net mass
    /// for kilograms.
    pub fn in_unit(&self, unit: &str) -> Option<Decimal> {
        match self.supplementary {
            Some((value, declared)) if declared == unit => Some(value),
            _ if unit == "KGM" => self.net_mass_kg,
            _ => None,
        }
    }
}

impl Specific {
    fn charge(&self, quantities: &Quantities) -> Result<Decimal, String> {
        quantities
            .in_unit(&self.unit)
            .map(|quantity| quantity / self.per * self.amount)
            .ok_or_else(|| self.unit.clone())
    }

    fn describe(&self, currency: Currency) -> String {
        if self.per == Decimal::ONE {
            format!("{} {currency} / {}", self.amount, self.unit)
        } else {
            format!("{} {currency} / {} {}", self.amount, self.per, self.unit)
        }
    }
}

impl Measure {
    pub fn ad_valorem(percent: Decimal) -> Self {
        Self {
            ad_valorem_percent: percent,
            ..Self::default()
        }
    }

    /// The unrounded charge on `value` (in the tariff currency): ad valorem plus specific,
    /// raised to the minimum and capped at the maximum. `Err(unit)` names the unit of a
    /// quantity the measure needs and the item does not give.
    pub fn charge(&self, value: Decimal, quantities: &Quantities) -> Result<Decimal, String> {
        let mut charge = value * self.ad_valorem_percent / Decimal::ONE_HUNDRED;
        if let Some(specific) = &self.specific {
            charge += specific.charge(quantities)?;
        }
        if let Some(minimum) = &self.minimum {
            charge = charge.max(minimum.charge(quantities)?);
        }
        if let Some(maximum) = &self.maximum {
            charge = charge.min(maximum.charge(quantities)?);
        }
        Ok(charge)
    }

    /// The measure as a tariff prints it: `12.8 % + 176.8 EUR / 100 KGM (MIN …, MAX …)`.
    pub fn describe(&self, currency: Currency) -> String {
        let mut parts = Vec::new();
        if !self.ad_valorem_percent.is_zero() || self.specific.is_none() {
            parts.push(format!("{} %", self.ad_valorem_percent.normalize()));
        }
        if let Some(specific) = &self.specific {
            parts.push(specific.describe(currency));
        }
        let mut text = parts.join(" + ");
        let bounds: Vec<String> = [("MIN", &self.minimum), ("MAX", &self.maximum)]
            .into_iter()
            .filter_map(|(label, bound)| {
                bound
                    .as_ref()
                    .map(|b| format!("{label} {}", b.describe(currency)))
            })
            .collect();
        if !bounds.is_empty() {
            text.push_str(&format!(" ({})", bounds.join(", ")));
        }
        text
    }

    fn check(&self, what: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.ad_valorem_percent >= Decimal::ZERO,
            "{what}: negative ad valorem rate"
        );
        for specific in [&self.specific, &self.minimum, &self.maximum]
            .into_iter()
            .flatten()
        {
            anyhow::ensure!(
                specific.amount >= Decimal::ZERO && specific.per > Decimal::ZERO,
                "{what}: specific amounts must not be negative and `per` must be positive"
            );
        }
        Ok(())
    }
}

/// A duty-free quantity of tobacco or alcohol in a traveller's luggage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantityAllowance {
    pub label: String,
    pub prefix: String,
    pub unit: String,
    pub limit: Decimal,
}

/// Traveller allowances (Council Directive 2007/74/EC Art. 7-9), as configured.
#[derive(Debug, Clone)]
pub struct Allowances {
    pub air_and_sea: Decimal,
    pub land: Decimal,
    pub under_15: Decimal,
    pub quantity: Vec<QuantityAllowance>,
}

impl Allowances {
    /// The quantity allowance whose prefix covers `code`, longest prefix first.
    pub fn quantity_allowance(&self, code: &str) -> Option<&QuantityAllowance> {
        self.quantity
            .iter()
            .filter(|allowance| code.starts_with(&allowance.prefix))
            .max_by_key(|allowance| allowance.prefix.len())
    }
}

/// Relief for consignments of negligible value (Council Regulation (EC) No 1186/2009 Art. 23-24).
#[derive(Debug, Clone)]
pub struct DeMinimis {
    /// Largest intrinsic value relieved of duty; zero means no relief.
    pub duty: Decimal,
    /// Largest intrinsic value relieved of VAT; zero means no relief (the EU since 1 July 2021).
    pub vat: Decimal,
    /// Goods never relieved: alcohol, tobacco, perfumes (Art. 24).
    pub excluded_prefixes: Vec<String>,
}

impl DeMinimis {
    pub fn excludes(&self, code: &str) -> bool {
        self.excluded_prefixes
            .iter()
            .any(|prefix| code.starts_with(prefix))
    }
}

/// One day's exchange rates: units of each currency per unit of the tariff currency.
#[derive(Debug, Clone)]
pub struct ExchangeRates {
    pub date: NaiveDate,
    rates: HashMap<Currency, Decimal>,
}

impl ExchangeRates {
    /// Units of `currency` per unit of the tariff currency, if the table lists it.
    pub fn rate(&self, currency: Currency) -> Option<Decimal> {
        self.rates.get(&currency).copied()
    }
}

#[derive(Debug, Clone)]
pub struct Tariff {
    pub currency: Currency,
    pub vat_rate_percent: Decimal,
    /// Applied where no duty prefix matches.
    default_duty: Described,
    pub max_items: usize,
    pub cash_declaration_threshold: Decimal,
    pub rounding_mode: RoundingMode,
    rounding_decimals: Option<u32>,
    pub de_minimis: DeMinimis,
    pub allowances: Allowances,
    duty_measures: HashMap<String, Described>,
    excise: HashMap<String, Measure>,
    /// Rate tables, oldest first.
    exchange_rates: Vec<ExchangeRates>,
    /// Risk profiles file named by the tariff, relative to the tariff file.
    pub risk_profiles: Option<String>,
}

/// A duty measure with its description in words, written once when the tariff loads rather
/// than for every goods item assessed.
#[derive(Debug, Clone)]
struct Described {
    measure: Measure,
    description: String,
}

impl Described {
    fn new(measure: Measure, currency: Currency) -> Self {
        let description = measure.describe(currency);
        Self {
            measure,
            description,
        }
    }
}

fn check_prefix(prefix: &str, table: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !prefix.is_empty() && prefix.len() <= 10 && prefix.bytes().all(|b| b.is_ascii_digit()),
        "{table} prefix {prefix:?} is not a commodity code prefix"
    );
    Ok(())
}

fn read_measures(
    table: &str,
    file: BTreeMap<String, MeasureFile>,
) -> anyhow::Result<HashMap<String, Measure>> {
    file.into_iter()
        .map(|(prefix, measure)| {
            check_prefix(&prefix, table)?;
            let measure = match measure {
                MeasureFile::AdValorem(rate) => Measure::ad_valorem(rate),
                MeasureFile::Full(measure) => measure,
            };
            measure.check(&format!("{table} {prefix}"))?;
            Ok((prefix, measure))
        })
        .collect()
}

/// The entry of the longest prefix of `code` in `table`.
fn longest_prefix<'a, T>(table: &'a HashMap<String, T>, code: &str) -> Option<&'a T> {
    (1..=code.len())
        .rev()
        .find_map(|len| table.get(&code[..len]))
}

impl Tariff {
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let file: TariffFile = toml::from_str(text)?;
        let currency = Currency::parse(&file.currency)
            .ok_or_else(|| anyhow::anyhow!("tariff currency {} is not ISO 4217", file.currency))?;
        let mut exchange_rates = Vec::new();
        for table in file.exchange_rates {
            let mut rates = HashMap::new();
            for (code, rate) in table.rates {
                let foreign = Currency::parse(&code).ok_or_else(|| {
                    anyhow::anyhow!("exchange rate currency {code} is not ISO 4217")
                })?;
                anyhow::ensure!(
                    rate > Decimal::ZERO,
                    "exchange rate for {code} on {} must be positive",
                    table.date
                );
                rates.insert(foreign, rate);
            }
            rates.insert(currency, Decimal::ONE);
            exchange_rates.push(ExchangeRates {
                date: table.date,
                rates,
            });
        }
        anyhow::ensure!(
            !exchange_rates.is_empty(),
            "the tariff lists no exchange rates"
        );
        exchange_rates.sort_by_key(|table| table.date);
        for allowance in &file.allowances.quantity {
            check_prefix(&allowance.prefix, "allowance")?;
        }
        for prefix in &file.de_minimis.excluded_prefixes {
            check_prefix(prefix, "de minimis exclusion")?;
        }
        anyhow::ensure!(file.max_items > 0, "max_items must be at least 1");
        Ok(Self {
            currency,
            vat_rate_percent: file.vat_rate_percent,
            default_duty: Described::new(
                Measure::ad_valorem(file.default_duty_rate_percent),
                currency,
            ),
            max_items: file.max_items,
            cash_declaration_threshold: file.cash_declaration_threshold,
            rounding_mode: file.rounding.mode,
            rounding_decimals: file.rounding.decimals,
            de_minimis: DeMinimis {
                duty: file.de_minimis.duty,
                vat: file.de_minimis.vat,
                excluded_prefixes: file.de_minimis.excluded_prefixes,
            },
            allowances: Allowances {
                air_and_sea: file.allowances.air_and_sea,
                land: file.allowances.land,
                under_15: file.allowances.under_15,
                quantity: file.allowances.quantity,
            },
            duty_measures: read_measures("duty", file.duty_rates)?
                .into_iter()
                .map(|(prefix, measure)| (prefix, Described::new(measure, currency)))
                .collect(),
            excise: read_measures("excise", file.excise)?,
            exchange_rates,
            risk_profiles: file.risk_profiles,
        })
    }

    /// The duty measure of the longest prefix of `code` the tariff lists, else the default rate.
    pub fn duty_measure(&self, code: &str) -> &Measure {
        &self.duty(code).measure
    }

    /// The duty measure on `code` in words, for example "12.8 % + 176.80 EUR / 100 KGM".
    pub fn duty_description(&self, code: &str) -> &str {
        &self.duty(code).description
    }

    fn duty(&self, code: &str) -> &Described {
        longest_prefix(&self.duty_measures, code).unwrap_or(&self.default_duty)
    }

    /// The excise measure on `code`, where one is configured.
    pub fn excise_measure(&self, code: &str) -> Option<&Measure> {
        longest_prefix(&self.excise, code)
    }

    /// The rates in force on `date`: the latest table dated on or before it.
    pub fn rates_on(&self, date: NaiveDate) -> Option<&ExchangeRates> {
        self.exchange_rates
            .iter()
            .rev()
            .find(|table| table.date <= date)
    }

    /// Rounds an amount due in the tariff currency as the country's rules say.
    pub fn round(&self, value: Decimal) -> Decimal {
        let decimals = self
            .rounding_decimals
            .unwrap_or_else(|| self.currency.minor_units());
        let strategy = match self.rounding_mode {
            RoundingMode::HalfAwayFromZero => RoundingStrategy::MidpointAwayFromZero,
            RoundingMode::HalfEven => RoundingStrategy::MidpointNearestEven,
            RoundingMode::Down => RoundingStrategy::ToZero,
            RoundingMode::Up => RoundingStrategy::AwayFromZero,
        };
        let mut rounded = value.round_dp_with_strategy(decimals, strategy);
        rounded.rescale(decimals);
        rounded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_default_tariff_loads() {
        let tariff = Tariff::from_toml(DEFAULT_TARIFF).unwrap();
        assert_eq!(tariff.currency.as_str(), "EUR");
        assert_eq!(
            tariff.duty_measure("0202309000"),
            &Measure::ad_valorem(Decimal::new(128, 1))
        );
        assert_eq!(tariff.duty_description("0202309000"), "12.8 %");
        assert_eq!(
            tariff.duty_measure("9999999999"),
            &Measure::ad_valorem(Decimal::new(4, 0))
        );
        assert_eq!(tariff.duty_description("9999999999"), "4 %");
    }

    #[test]
    fn the_longest_prefix_wins() {
        let tariff = Tariff::from_toml(
            &DEFAULT_TARIFF.replace("\"02\" = \"12.8\"", "\"02\" = \"12.8\"\n\"0202\" = \"5\""),
        )
        .unwrap();
        assert_eq!(
            tariff.duty_measure("020230").ad_valorem_percent,
            Decimal::new(5, 0)
        );
        assert_eq!(
            tariff.duty_measure("020110").ad_valorem_percent,
            Decimal::new(128, 1)
        );
    }

    #[test]
    fn amounts_convert_at_the_rate_in_force_on_the_day() {
        let tariff = Tariff::from_toml(DEFAULT_TARIFF).unwrap();
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(
            tariff.rates_on(date("2026-07-15")).unwrap().rate(usd),
            Some(Decimal::new(117, 2))
        );
        assert_eq!(
            tariff.rates_on(date("2026-11-28")).unwrap().rate(usd),
            Some(Decimal::new(115, 2))
        );
        assert!(tariff.rates_on(date("2020-01-01")).is_none());
        let rates = tariff.rates_on(date("2026-07-15")).unwrap();
        assert_eq!(
            rates.rate(Currency::parse("EUR").unwrap()),
            Some(Decimal::ONE)
        );
        assert_eq!(rates.rate(Currency::parse("JPY").unwrap()), None);
    }

    #[test]
    fn cn_mixed_duty_is_ad_valorem_plus_specific_within_minimum_and_maximum() {
        let eur = Currency::parse("EUR").unwrap();
        let per_100_kg = |amount: i64| Specific {
            amount: Decimal::new(amount, 0),
            per: Decimal::ONE_HUNDRED,
            unit: "KGM".into(),
        };
        let measure = Measure {
            ad_valorem_percent: Decimal::new(10, 0),
            specific: Some(per_100_kg(20)),
            minimum: Some(per_100_kg(30)),
            maximum: Some(per_100_kg(50)),
        };
        let mass = |kg: i64| Quantities {
            supplementary: None,
            net_mass_kg: Some(Decimal::new(kg, 0)),
        };
        // 10 % of 1000 + 20 = 120, capped at the maximum of 50.
        assert_eq!(
            measure.charge(Decimal::new(1000, 0), &mass(100)),
            Ok(Decimal::new(50, 0))
        );
        // 10 % of 50 + 20 = 25, raised to the minimum of 30.
        assert_eq!(
            measure.charge(Decimal::new(50, 0), &mass(100)),
            Ok(Decimal::new(30, 0))
        );
        // 10 % of 150 + 20 = 35, inside the bounds.
        assert_eq!(
            measure.charge(Decimal::new(150, 0), &mass(100)),
            Ok(Decimal::new(35, 0))
        );
        assert_eq!(
            measure.charge(Decimal::new(150, 0), &Quantities::default()),
            Err("KGM".to_owned())
        );
        assert_eq!(
            measure.describe(eur),
            "10 % + 20 EUR / 100 KGM (MIN 30 EUR / 100 KGM, MAX 50 EUR / 100 KGM)"
        );
    }

    #[test]
    fn a_specific_duty_reads_the_supplementary_unit_it_names() {
        let measure = Measure {
            specific: Some(Specific {
                amount: Decimal::new(32, 0),
                per: Decimal::ONE_HUNDRED,
                unit: "LTR".into(),
            }),
            ..Measure::default()
        };
        let litres = Quantities {
            supplementary: Some((Decimal::new(50, 0), "LTR")),
            net_mass_kg: Some(Decimal::new(55, 0)),
        };
        assert_eq!(
            measure.charge(Decimal::ZERO, &litres),
            Ok(Decimal::new(16, 0))
        );
    }

    #[test]
    fn rounding_follows_the_configured_mode() {
        let tariff = Tariff::from_toml(DEFAULT_TARIFF).unwrap();
        assert_eq!(tariff.round(Decimal::new(2525, 4)).to_string(), "0.25");
        assert_eq!(tariff.round(Decimal::new(125, 3)).to_string(), "0.13");
        let down = Tariff::from_toml(
            &DEFAULT_TARIFF.replace("mode = \"half_away_from_zero\"", "mode = \"down\""),
        )
        .unwrap();
        assert_eq!(down.round(Decimal::new(129, 3)).to_string(), "0.12");
        let even = Tariff::from_toml(
            &DEFAULT_TARIFF.replace("mode = \"half_away_from_zero\"", "mode = \"half_even\""),
        )
        .unwrap();
        assert_eq!(even.round(Decimal::new(125, 3)).to_string(), "0.12");
    }

    #[test]
    fn bad_tariffs_are_refused_at_load() {
        let letters = DEFAULT_TARIFF.replace("\"8471\" = \"0\"", "\"84A1\" = \"0\"");
        assert!(Tariff::from_toml(&letters).is_err());
        let negative = DEFAULT_TARIFF.replace("\"8471\" = \"0\"", "\"8471\" = \"-1\"");
        assert!(Tariff::from_toml(&negative).is_err());
    }
}
