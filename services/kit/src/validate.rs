//! Shared parsers from proto fields to domain values. Each takes the field path it reads and
//! records a violation there instead of failing, so one answer lists every bad field.

use std::{fmt, str::FromStr};

use bordermesh_proto::common::v1 as common;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::FieldViolations;

/// Largest request a server reads whole; anything bigger is refused by the transport.
pub const MAX_TEXT_FIELD: usize = 4096;

/// ISO 4217 active alphabetic codes (2024 list), sorted for binary search.
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VED", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW",
    "ZWG",
];

/// An amount in one currency, checked: a known ISO 4217 code and a decimal amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    pub currency: Currency,
    pub value: Decimal,
}

/// An ISO 4217 alphabetic code, known to be on the active list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn parse(code: &str) -> Option<Self> {
        ISO_4217.binary_search(&code).ok()?;
        let bytes: [u8; 3] = code.as_bytes().try_into().ok()?;
        Some(Self(bytes))
    }

    /// Digits after the decimal point of the currency's minor unit (ISO 4217 "E" column).
    pub fn minor_units(&self) -> u32 {
        const NONE: &[&str] = &[
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND",
            "VUV", "XAF", "XOF", "XPF",
        ];
        const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
        let code = self.as_str();
        if NONE.contains(&code) {
            0
        } else if THREE.contains(&code) {
            3
        } else {
            2
        }
    }

    /// Rounds to the minor unit, half away from zero, and writes exactly that many decimals.
    pub fn round(&self, value: Decimal) -> Decimal {
        let mut rounded = value.round_dp_with_strategy(
            self.minor_units(),
            rust_decimal::RoundingStrategy::MidpointAwayFromZero,
        );
        rounded.rescale(self.minor_units());
        rounded
    }

    pub fn as_str(&self) -> &str {
        // Built only from entries of ISO_4217, which are ASCII.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Amount {
    pub fn to_proto(&self) -> common::Money {
        common::Money {
            currency_code: self.currency.as_str().to_owned(),
            amount: self.value.to_string(),
        }
    }
}

/// A field's path inside a request, built as the converter walks down.
pub fn path(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_owned()
    } else {
        format!("{parent}.{child}")
    }
}

pub fn indexed(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// A field's path as the parsers below take it: written out only when a violation names it, so
/// that checking a valid hundred-item declaration formats no paths at all.
pub trait FieldPath: fmt::Display + Copy {}

impl<T: fmt::Display + Copy> FieldPath for T {}

/// `parent.child`, written when needed.
#[derive(Debug, Clone, Copy)]
pub struct Child<P>(pub P, pub &'static str);

impl<P: fmt::Display> fmt::Display for Child<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// `parent[index]`, written when needed.
#[derive(Debug, Clone, Copy)]
pub struct Indexed<P>(pub P, pub usize);

impl<P: fmt::Display> fmt::Display for Indexed<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.0, self.1)
    }
}

/// `request_id` must be a UUID (AIP-155).
pub fn request_id(value: &str, violations: &mut FieldViolations) -> Option<Uuid> {
    match Uuid::parse_str(value) {
        Ok(id) if !id.is_nil() => Some(id),
        _ => {
            violations.add("request_id", "must be a non-nil UUID");
            None
        }
    }
}

/// An id of a record, as read back by a `Get…` call.
pub fn record_id(field: &str, value: &str) -> Result<Uuid, tonic::Status> {
    let mut violations = FieldViolations::new();
    match Uuid::parse_str(value) {
        Ok(id) => Ok(id),
        Err(_) => {
            violations.add(field, "must be a UUID");
            Err(violations.into_status())
        }
    }
}

/// A text field that must be present and short.
pub fn required_text<'a>(
    field: impl FieldPath,
    value: &'a str,
    violations: &mut FieldViolations,
) -> Option<&'a str> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        violations.add(field, "is required");
        None
    } else if trimmed.len() > MAX_TEXT_FIELD {
        violations.add(field, format!("must be at most {MAX_TEXT_FIELD} bytes"));
        None
    } else {
        Some(trimmed)
    }
}

/// A decimal written with a dot and no exponent, for example `615.00`.
pub fn decimal(
    field: impl FieldPath,
    value: &str,
    violations: &mut FieldViolations,
) -> Option<Decimal> {
    let valid_shape = !value.is_empty()
        && value.len() <= 40
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-');
    match valid_shape.then(|| Decimal::from_str(value).ok()).flatten() {
        Some(number) => Some(number),
        None => {
            violations.add(field, "must be a decimal number such as 12.50");
            None
        }
    }
}

/// A decimal that must be greater than zero (quantities, masses, values).
pub fn positive_decimal(
    field: impl FieldPath,
    value: &str,
    violations: &mut FieldViolations,
) -> Option<Decimal> {
    let number = decimal(field, value, violations)?;
    if number <= Decimal::ZERO {
        violations.add(field, "must be greater than zero");
        return None;
    }
    Some(number)
}

/// Money: a known ISO 4217 currency and a non-negative decimal amount.
pub fn money(
    field: impl FieldPath,
    value: Option<&common::Money>,
    violations: &mut FieldViolations,
) -> Option<Amount> {
    let Some(money) = value else {
        violations.add(field, "is required");
        return None;
    };
    let currency = Currency::parse(&money.currency_code);
    if currency.is_none() {
        violations.add(
            Child(field, "currency_code"),
            "must be an active ISO 4217 code such as EUR",
        );
    }
    let amount_field = Child(field, "amount");
    let value = decimal(amount_field, &money.amount, violations)?;
    if value < Decimal::ZERO {
        violations.add(amount_field, "must not be negative");
        return None;
    }
    Some(Amount {
        currency: currency?,
        value,
    })
}

/// A calendar date that exists.
pub fn date(
    field: impl FieldPath,
    value: Option<&common::Date>,
    violations: &mut FieldViolations,
) -> Option<NaiveDate> {
    let Some(date) = value else {
        violations.add(field, "is required");
        return None;
    };
    let parsed = u32::try_from(date.month)
        .ok()
        .zip(u32::try_from(date.day).ok())
        .and_then(|(month, day)| NaiveDate::from_ymd_opt(date.year, month, day));
    if parsed.is_none() {
        violations.add(field, "must be a calendar date that exists");
    }
    parsed
}

pub fn date_to_proto(date: NaiveDate) -> common::Date {
    use chrono::Datelike;
    common::Date {
        year: date.year(),
        month: date.month() as i32,
        day: date.day() as i32,
    }
}

/// A country as ICAO 9303 writes it: three upper-case letters, or a shorter code padded with
/// `<` (`D<<` for Germany).
pub fn country(
    field: impl FieldPath,
    value: &str,
    violations: &mut FieldViolations,
) -> Option<String> {
    let bytes = value.as_bytes();
    let letters = bytes.iter().take_while(|b| b.is_ascii_uppercase()).count();
    let valid = bytes.len() == 3 && letters >= 1 && bytes[letters..].iter().all(|&b| b == b'<');
    if valid {
        Some(value.to_owned())
    } else {
        violations.add(
            field,
            "must be an ISO 3166-1 alpha-3 or ICAO 9303 code such as SVN or D<<",
        );
        None
    }
}

/// A proto3 enum field that must be set to a known, non-zero value.
pub fn required_enum<E: TryFrom<i32>>(
    field: impl FieldPath,
    value: i32,
    violations: &mut FieldViolations,
) -> Option<E> {
    if value == 0 {
        violations.add(field, "must be specified");
        return None;
    }
    match E::try_from(value) {
        Ok(known) => Some(known),
        Err(_) => {
            violations.add(field, format!("{value} is not a known value"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_list_is_sorted_for_binary_search() {
        assert!(ISO_4217.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(Currency::parse("EUR").is_some());
        assert!(Currency::parse("EURO").is_none());
        assert!(Currency::parse("eur").is_none());
        assert!(Currency::parse("XYZ").is_none());
    }

    #[test]
    fn iso_4217_minor_units_fix_the_decimals_written() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(eur.round(Decimal::new(15, 0)).to_string(), "15.00");
        assert_eq!(eur.round(Decimal::new(5, 3)).to_string(), "0.01");
        assert_eq!(
            Currency::parse("JPY")
                .unwrap()
                .round(Decimal::new(1505, 1))
                .to_string(),
            "151"
        );
        assert_eq!(
            Currency::parse("KWD")
                .unwrap()
                .round(Decimal::new(1, 0))
                .to_string(),
            "1.000"
        );
    }

    #[test]
    fn money_rejects_negative_amounts_and_unknown_currencies() {
        let mut violations = FieldViolations::new();
        let bad = common::Money {
            currency_code: "ABC".into(),
            amount: "-5".into(),
        };
        assert!(money("goods[0].invoice_value", Some(&bad), &mut violations).is_none());
        let fields: Vec<_> = violations.fields().collect();
        assert_eq!(
            fields,
            [
                "goods[0].invoice_value.currency_code",
                "goods[0].invoice_value.amount"
            ]
        );
    }

    #[test]
    fn decimals_refuse_exponents_and_floats_spelled_oddly() {
        let mut violations = FieldViolations::new();
        assert_eq!(
            decimal("x", "615.00", &mut violations),
            Some(Decimal::new(61500, 2))
        );
        assert!(decimal("x", "1e3", &mut violations).is_none());
        assert!(decimal("x", "NaN", &mut violations).is_none());
        assert!(decimal("x", "", &mut violations).is_none());
        assert_eq!(violations.fields().count(), 3);
    }

    #[test]
    fn dates_must_exist() {
        let mut violations = FieldViolations::new();
        let feb30 = common::Date {
            year: 2026,
            month: 2,
            day: 30,
        };
        assert!(date("crossing_date", Some(&feb30), &mut violations).is_none());
        assert_eq!(violations.fields().collect::<Vec<_>>(), ["crossing_date"]);
    }

    #[test]
    fn countries_follow_icao_9303_part_3_padding() {
        let mut violations = FieldViolations::new();
        assert!(country("c", "SVN", &mut violations).is_some());
        assert!(country("c", "D<<", &mut violations).is_some());
        assert!(country("c", "<<D", &mut violations).is_none());
        assert!(country("c", "svn", &mut violations).is_none());
        assert_eq!(violations.fields().count(), 2);
    }
}
