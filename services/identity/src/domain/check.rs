//! The first-line check of one traveller: the zone's own integrity, then document validity.

use chrono::{Months, NaiveDate};

use super::{
    country::enjoys_free_movement,
    mrz::{Mrz, MrzFinding},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Clear,
    Refer,
    Refuse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Union citizens and their peers (EEA, CH): minimum checks (SBC Art. 8(2)).
    FreeMovement,
    /// Third-country nationals: thorough checks (SBC Art. 8(3)).
    ThirdCountry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Entry,
    Exit,
}

/// How long a document must remain valid, per category. Configuration, not law in code: a
/// country sets its own figures within the Code.
#[derive(Debug, Clone, Copy)]
pub struct ValidityRules {
    /// SBC Art. 6(1)(a)(i): a third-country national's document stays valid this many months
    /// after the intended date of departure.
    pub third_country_months_after_departure: u32,
}

impl Default for ValidityRules {
    fn default() -> Self {
        Self {
            third_country_months_after_departure: 3,
        }
    }
}

/// One reason for a verdict, with the rule and, for refusals, the Annex V Part B code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub verdict: Verdict,
    pub code: &'static str,
    pub rule_id: &'static str,
    pub message: String,
    pub refusal_code: Option<char>,
}

pub struct TravellerCheck {
    pub verdict: Verdict,
    pub category: Category,
    pub findings: Vec<Finding>,
}

pub struct CheckInput<'a> {
    pub mrz: &'a Mrz,
    pub declared_category: Option<Category>,
    pub direction: Direction,
    pub crossing_date: NaiveDate,
    pub intended_departure: Option<NaiveDate>,
}

pub fn check(input: &CheckInput<'_>, rules: &ValidityRules) -> TravellerCheck {
    let category = input.declared_category.unwrap_or({
        if enjoys_free_movement(&input.mrz.nationality) {
            Category::FreeMovement
        } else {
            Category::ThirdCountry
        }
    });
    let mut findings: Vec<Finding> = input.mrz.findings.iter().map(zone_finding).collect();
    findings.extend(validity_finding(input, category, rules));
    let verdict = findings
        .iter()
        .map(|f| f.verdict)
        .max()
        .unwrap_or(Verdict::Clear);
    TravellerCheck {
        verdict,
        category,
        findings,
    }
}

/// A zone that fails its own checks may be forged or misread: a second-line officer examines
/// the document (SBC Art. 8(3)(a)(i) authenticity); the first line does not refuse on it.
pub fn zone_finding(finding: &MrzFinding) -> Finding {
    let (code, message) = match finding {
        MrzFinding::CheckDigit(digit) => (
            "MRZ_CHECK_DIGIT",
            format!(
                "check digit of {} is {}, computed {}",
                digit.field, digit.printed, digit.computed
            ),
        ),
        MrzFinding::InvalidDate { field, .. } => (
            "MRZ_INVALID_DATE",
            format!("{field} is not a calendar date"),
        ),
        MrzFinding::InvalidSex { printed } => (
            "MRZ_INVALID_SEX",
            format!("sex {printed} is not F, M, X or <"),
        ),
    };
    Finding {
        verdict: Verdict::Refer,
        code,
        rule_id: "ICAO-9303-P3-4.9",
        message,
        refusal_code: None,
    }
}

fn validity_finding(
    input: &CheckInput<'_>,
    category: Category,
    rules: &ValidityRules,
) -> Option<Finding> {
    let Some(expiry) = input.mrz.expiry_date else {
        return Some(Finding {
            verdict: Verdict::Refer,
            code: "DOCUMENT_EXPIRY_UNKNOWN",
            rule_id: "SBC-ART-8",
            message: "the expiry date cannot be read from the zone".into(),
            refusal_code: None,
        });
    };
    if expiry < input.crossing_date {
        return Some(match category {
            // Directive 2004/38/EC Art. 5(4): a Union citizen may prove nationality otherwise.
            Category::FreeMovement => Finding {
                verdict: Verdict::Refer,
                code: "DOCUMENT_EXPIRED",
                rule_id: "DIR-2004-38-ART-5-4",
                message: format!("document expired on {expiry}; nationality to be established"),
                refusal_code: None,
            },
            Category::ThirdCountry => Finding {
                verdict: Verdict::Refuse,
                code: "DOCUMENT_EXPIRED",
                rule_id: "SBC-ART-6-1-A",
                message: format!("document expired on {expiry}"),
                refusal_code: Some('A'),
            },
        });
    }
    if category == Category::ThirdCountry && input.direction == Direction::Entry {
        // Without a stated departure the stay is taken to end on the day of entry: the
        // strictest reading the traveller can still meet.
        let departure = input.intended_departure.unwrap_or(input.crossing_date);
        let needed = departure
            .checked_add_months(Months::new(rules.third_country_months_after_departure))
            .unwrap_or(NaiveDate::MAX);
        if expiry < needed {
            return Some(Finding {
                verdict: Verdict::Refuse,
                code: "DOCUMENT_VALIDITY_TOO_SHORT",
                rule_id: "SBC-ART-6-1-A-I",
                message: format!(
                    "document must be valid until at least {needed}, {} months after departure on {departure}; it expires on {expiry}",
                    rules.third_country_months_after_departure
                ),
                refusal_code: Some('A'),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    const SERBIAN: &str = "P<SRBPETROVIC<<MARKO<<<<<<<<<<<<<<<<<<<<<<<<\n0123456784SRB7902147M3106110<<<<<<<<<<<<<<<4";
    const GERMAN: &str = "P<D<<MUSTERMANN<<ERIKA<<<<<<<<<<<<<<<<<<<<<<\nC01X00T478D<<8308126F3308028<<<<<<<<<<<<<<<4";

    fn run(text: &str, crossing: NaiveDate, departure: Option<NaiveDate>) -> TravellerCheck {
        let mrz = super::super::mrz::parse(text, crossing).unwrap();
        check(
            &CheckInput {
                mrz: &mrz,
                declared_category: None,
                direction: Direction::Entry,
                crossing_date: crossing,
                intended_departure: departure,
            },
            &ValidityRules::default(),
        )
    }

    #[test]
    fn valid_documents_are_cleared() {
        let result = run(SERBIAN, ymd(2026, 7, 15), Some(ymd(2026, 7, 20)));
        assert_eq!(result.verdict, Verdict::Clear);
        assert_eq!(result.category, Category::ThirdCountry);
        assert_eq!(
            run(GERMAN, ymd(2026, 7, 15), None).category,
            Category::FreeMovement
        );
    }

    #[test]
    fn sbc_art_6_1_a_third_country_document_valid_three_months_after_departure() {
        // Expires 2031-06-11: a departure on 2031-03-11 is the last one allowed.
        let ok = run(SERBIAN, ymd(2031, 3, 1), Some(ymd(2031, 3, 11)));
        assert_eq!(ok.verdict, Verdict::Clear);
        let short = run(SERBIAN, ymd(2031, 3, 1), Some(ymd(2031, 3, 12)));
        assert_eq!(short.verdict, Verdict::Refuse);
        assert_eq!(short.findings[0].code, "DOCUMENT_VALIDITY_TOO_SHORT");
        assert_eq!(short.findings[0].refusal_code, Some('A'));
    }

    #[test]
    fn sbc_annex_v_b_a_expired_third_country_document_is_refused() {
        let result = run(SERBIAN, ymd(2031, 6, 12), None);
        assert_eq!(result.verdict, Verdict::Refuse);
        assert_eq!(result.findings[0].code, "DOCUMENT_EXPIRED");
    }

    #[test]
    fn directive_2004_38_art_5_4_expired_union_document_is_referred_not_refused() {
        let result = run(GERMAN, ymd(2033, 8, 3), None);
        assert_eq!(result.verdict, Verdict::Refer);
        assert_eq!(result.findings[0].code, "DOCUMENT_EXPIRED");
    }

    #[test]
    fn icao_9303_part_3_a_wrong_check_digit_refers_to_the_second_line() {
        let altered = GERMAN.replace("C01X00T478", "C01X00T471");
        let result = run(&altered, ymd(2026, 7, 15), None);
        assert_eq!(result.verdict, Verdict::Refer);
        assert!(
            result
                .findings
                .iter()
                .any(|f| f.code == "MRZ_CHECK_DIGIT" && f.message.contains("document_number"))
        );
    }
}
