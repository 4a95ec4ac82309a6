//! Transit (the Union and common transit procedures, as NCTS runs them): customs offices, the
//! guarantee, the time limit, discharge at destination and overdue movements.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{Finding, Verdict};

/// A customs office reference number: the ISO 3166-1 alpha-2 code of its country and six
/// letters or digits, for example `SI000100` (the Customs Office List's COL reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomsOffice(String);

impl CustomsOffice {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let bytes = text.as_bytes();
        let valid = bytes.len() == 8
            && bytes[..2].iter().all(u8::is_ascii_uppercase)
            && bytes[2..]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(
                "must be a customs office reference number: country code and 6 letters or digits, such as SI000100",
            )
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Longest time limit an office of departure may set; a longer one is a typing error.
pub const MAX_TRANSIT_DAYS: i64 = 60;

/// UCC Art. 233(1)(a): the goods are to be presented at destination within the time limit the
/// office of departure prescribes; it cannot precede the release for transit.
pub fn check_time_limit(departure: NaiveDate, time_limit: NaiveDate) -> Result<(), String> {
    if time_limit < departure {
        return Err("must not be before the departure date".into());
    }
    if (time_limit - departure).num_days() > MAX_TRANSIT_DAYS {
        return Err(format!(
            "must be within {MAX_TRANSIT_DAYS} days of the departure date"
        ));
    }
    Ok(())
}

/// UCC Art. 89(2) and 195: the guarantee covers the duties and taxes at stake on the goods.
pub fn check_guarantee(guarantee: Decimal, at_stake: Decimal) -> Result<(), String> {
    if guarantee < at_stake {
        return Err(format!(
            "must cover the duties and taxes at stake on the goods ({at_stake})"
        ));
    }
    Ok(())
}

/// UCC Art. 233(1)(a): a movement still open after its time limit is overdue, and the office
/// of departure starts the enquiry procedure.
pub fn is_overdue(time_limit: NaiveDate, as_of: NaiveDate) -> bool {
    as_of > time_limit
}

/// What the office of destination notes when the goods are presented: a late arrival
/// (UCC Art. 233(1)(a)), or presentation at an office other than the one declared, which the
/// Union transit procedure accepts but records.
pub fn discharge_findings(
    declared_destination: &str,
    office: &CustomsOffice,
    time_limit: NaiveDate,
    arrival: NaiveDate,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if is_overdue(time_limit, arrival) {
        findings.push(Finding {
            verdict: Verdict::Refer,
            code: "TIME_LIMIT_EXCEEDED",
            rule_id: "UCC-ART-233".into(),
            message: format!(
                "presented on {arrival}, after the time limit of {time_limit}: the carrier must explain the delay"
            ),
            subject: "arrival_date".into(),
        });
    }
    if office.as_str() != declared_destination {
        findings.push(Finding {
            verdict: Verdict::Clear,
            code: "OTHER_OFFICE_OF_DESTINATION",
            rule_id: "UCC-ART-233".into(),
            message: format!(
                "presented at {} instead of the declared office {declared_destination}",
                office.as_str()
            ),
            subject: "office_of_destination".into(),
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn customs_office_reference_numbers_are_country_and_six_characters() {
        assert!(CustomsOffice::parse("SI000100").is_ok());
        assert!(CustomsOffice::parse("RS0001AB").is_ok());
        assert!(CustomsOffice::parse("si000100").is_err());
        assert!(CustomsOffice::parse("SI00010").is_err());
        assert!(CustomsOffice::parse("SI-00010").is_err());
    }

    #[test]
    fn ucc_art_233_time_limits_follow_departure_and_late_movements_are_overdue() {
        assert!(check_time_limit(day("2026-07-15"), day("2026-07-20")).is_ok());
        assert!(check_time_limit(day("2026-07-15"), day("2026-07-14")).is_err());
        assert!(check_time_limit(day("2026-07-15"), day("2026-12-31")).is_err());
        assert!(!is_overdue(day("2026-07-20"), day("2026-07-20")));
        assert!(is_overdue(day("2026-07-20"), day("2026-07-21")));
    }

    #[test]
    fn ucc_art_89_the_guarantee_covers_what_is_at_stake() {
        assert!(check_guarantee(Decimal::from(1000), Decimal::from(1000)).is_ok());
        assert!(check_guarantee(Decimal::from(999), Decimal::from(1000)).is_err());
    }

    #[test]
    fn a_late_arrival_at_another_office_is_noted_twice() {
        let office = CustomsOffice::parse("HR000200").unwrap();
        let late = discharge_findings("HR000100", &office, day("2026-07-20"), day("2026-07-22"));
        let codes: Vec<_> = late.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            ["TIME_LIMIT_EXCEEDED", "OTHER_OFFICE_OF_DESTINATION"]
        );
        let on_time = discharge_findings("HR000200", &office, day("2026-07-20"), day("2026-07-20"));
        assert!(on_time.is_empty());
    }
}
