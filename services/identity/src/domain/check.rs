//! The first-line check of one traveller: the zone's own integrity, then document validity.

use chrono::{Months, NaiveDate};

use super::{
    country::enjoys_free_movement,
    mrz::{Mrz, MrzFinding},
    sltd::ReportStatus,
    stay::StayAssessment,
    visa::VisaCheck,
    watchlist::Hit,
};

/// Subjects of findings, as paths inside a CheckTravellerRequest.
pub const SUBJECT_MRZ: &str = "traveller.document.mrz";
pub const SUBJECT_DOCUMENT: &str = "traveller.document";
pub const SUBJECT_VISA: &str = "traveller.visa_number";
pub const SUBJECT_TRAVELLER: &str = "traveller";

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

/// Document validity for one category of traveller. Configuration, not law in code: a country
/// sets its own figures within the Code.
#[derive(Debug, Clone, Copy)]
pub struct CategoryRules {
    /// SBC Art. 6(1)(a)(i): months the document stays valid after the intended departure.
    pub months_after_departure: Option<u32>,
    /// SBC Art. 6(1)(a)(ii): years within which the document was issued, when that is known.
    pub max_issue_age_years: Option<u32>,
    /// Whether a document that fails a rule is refused (Annex V Part B, A) or referred.
    pub refuse_invalid: bool,
}

/// How long a document must have been issued and remain valid, per category.
#[derive(Debug, Clone, Copy)]
pub struct ValidityRules {
    pub third_country: CategoryRules,
    pub free_movement: CategoryRules,
}

impl ValidityRules {
    fn for_category(&self, category: Category) -> &CategoryRules {
        match category {
            Category::ThirdCountry => &self.third_country,
            Category::FreeMovement => &self.free_movement,
        }
    }
}

impl Default for ValidityRules {
    fn default() -> Self {
        Self {
            third_country: CategoryRules {
                months_after_departure: Some(3),
                max_issue_age_years: Some(10),
                refuse_invalid: true,
            },
            // Directive 2004/38/EC Art. 5(4): a Union citizen may prove nationality otherwise.
            free_movement: CategoryRules {
                months_after_departure: None,
                max_issue_age_years: None,
                refuse_invalid: false,
            },
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
    pub subject: &'static str,
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
    /// Date of issue, when the document shows it beside the zone.
    pub issue_date: Option<NaiveDate>,
    /// The report in force for the document in SLTD or the national list.
    pub reported: Option<ReportStatus>,
    /// The 90/180-day rule, for third-country nationals.
    pub stay: Option<StayOutcome>,
    /// The presented visa sticker against the issued visas, when one was presented on entry.
    pub visa: Option<VisaCheck>,
    pub watchlist_hits: &'a [Hit],
}

/// The 90/180-day rule at this crossing.
#[derive(Debug, Clone, Copy)]
pub struct StayOutcome {
    pub assessment: StayAssessment,
    /// On entry: days by which the intended stay would exceed the rule on its worst day.
    pub planned_overstay_days: u32,
}

/// Who the rules treat the traveller as: the declared category, else the zone's nationality.
pub fn category(mrz: &Mrz, declared: Option<Category>) -> Category {
    declared.unwrap_or({
        if enjoys_free_movement(&mrz.nationality) {
            Category::FreeMovement
        } else {
            Category::ThirdCountry
        }
    })
}

pub fn check(input: &CheckInput<'_>, rules: &ValidityRules) -> TravellerCheck {
    let category = category(input.mrz, input.declared_category);
    let mut findings: Vec<Finding> = input.mrz.findings.iter().map(zone_finding).collect();
    findings.extend(validity_findings(input, category, rules));
    findings.extend(input.reported.map(reported_finding));
    findings.extend(
        input
            .stay
            .and_then(|stay| stay_finding(input.direction, stay)),
    );
    findings.extend(input.visa.and_then(visa_finding));
    findings.extend(input.watchlist_hits.iter().map(watchlist_finding));
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
        MrzFinding::UnknownCountry { field, printed } => (
            "MRZ_UNKNOWN_COUNTRY",
            format!(
                "{field} {printed} is neither an ISO 3166-1 code nor an ICAO 9303 special code"
            ),
        ),
    };
    Finding {
        verdict: Verdict::Refer,
        code,
        rule_id: "ICAO-9303-P3-4.9",
        message,
        refusal_code: None,
        subject: SUBJECT_MRZ,
    }
}

/// SBC Art. 8(3)(a)(ii) and Annex V Part B (A): a document reported lost, stolen or revoked is
/// no longer a valid travel document; its issuer cancelled it. The first line refuses with A,
/// not B: whether the holder also forged or misused it is for the second line to establish.
fn reported_finding(status: ReportStatus) -> Finding {
    Finding {
        verdict: Verdict::Refuse,
        code: "DOCUMENT_REPORTED",
        rule_id: "SBC-ART-8-3-A-II",
        message: format!(
            "the document is {} (SLTD or national list): not a valid travel document",
            status.describe()
        ),
        refusal_code: Some('A'),
        subject: SUBJECT_DOCUMENT,
    }
}

/// SBC Art. 6(1) and Annex V Part B (F) on entry; on exit, an overstay is flagged for the
/// second line (EES Reg. 2017/2226 Art. 12: the overstayer list).
fn stay_finding(direction: Direction, stay: StayOutcome) -> Option<Finding> {
    match direction {
        Direction::Entry if stay.planned_overstay_days > 0 => Some(Finding {
            verdict: Verdict::Refuse,
            code: "STAY_EXCEEDS_90_IN_180",
            rule_id: "SBC-ART-6-1",
            message: format!(
                "the intended stay would exceed 90 days in 180 by {} days ({} used in the window from {})",
                stay.planned_overstay_days, stay.assessment.days_used, stay.assessment.window_start
            ),
            refusal_code: Some('F'),
            subject: SUBJECT_TRAVELLER,
        }),
        Direction::Exit if stay.assessment.overstay_days > 0 => Some(Finding {
            verdict: Verdict::Refer,
            code: "OVERSTAY",
            rule_id: "REG-2017-2226-ART-12",
            message: format!(
                "stayed {} days beyond 90 in 180 ({} days in the window from {})",
                stay.assessment.overstay_days,
                stay.assessment.days_used,
                stay.assessment.window_start
            ),
            refusal_code: None,
            subject: SUBJECT_TRAVELLER,
        }),
        _ => None,
    }
}

/// SBC Art. 6(1)(b) and Annex V Part B (C); an unknown sticker is referred, because only the
/// second line can tell a false visa (D) from a misread number.
fn visa_finding(visa: VisaCheck) -> Option<Finding> {
    let (code, message) = match visa {
        VisaCheck::Valid => return None,
        VisaCheck::NotIssued => {
            return Some(Finding {
                verdict: Verdict::Refer,
                code: "VISA_NOT_ISSUED",
                rule_id: "REG-767-2008-ART-18",
                message: "no visa with this number was issued: the sticker is to be examined"
                    .into(),
                refusal_code: None,
                subject: SUBJECT_VISA,
            });
        }
        VisaCheck::NotYetValid => ("VISA_NOT_YET_VALID", "the visa is not yet valid"),
        VisaCheck::ExpiresBeforeDeparture => (
            "VISA_EXPIRES_BEFORE_DEPARTURE",
            "the visa expires before the intended departure",
        ),
        VisaCheck::EntriesExhausted => (
            "VISA_ENTRIES_EXHAUSTED",
            "every entry the visa allows has been made",
        ),
    };
    Some(Finding {
        verdict: Verdict::Refuse,
        code,
        rule_id: "SBC-ART-6-1-B",
        message: message.into(),
        refusal_code: Some('C'),
        subject: SUBJECT_VISA,
    })
}

/// SBC Art. 8(3)(a)(vi): a possible match with an alert goes to the second line, which
/// establishes identity; a match never refuses by itself.
fn watchlist_finding(hit: &Hit) -> Finding {
    Finding {
        verdict: Verdict::Refer,
        code: "WATCHLIST_HIT",
        rule_id: "SBC-ART-8-3-A-VI",
        message: format!(
            "possible match with alert {} ({}), score {:.2}",
            hit.alert_id, hit.reason, hit.score
        ),
        refusal_code: None,
        subject: SUBJECT_TRAVELLER,
    }
}

/// A finding on the document itself: refused with Annex V Part B code A or referred, as the
/// category's rules say.
fn document_finding(
    rules: &CategoryRules,
    code: &'static str,
    rule_id: &'static str,
    message: String,
) -> Finding {
    Finding {
        verdict: if rules.refuse_invalid {
            Verdict::Refuse
        } else {
            Verdict::Refer
        },
        code,
        rule_id,
        message,
        refusal_code: rules.refuse_invalid.then_some('A'),
        subject: SUBJECT_DOCUMENT,
    }
}

fn validity_findings(
    input: &CheckInput<'_>,
    category: Category,
    rules: &ValidityRules,
) -> Vec<Finding> {
    let rules = rules.for_category(category);
    let Some(expiry) = input.mrz.expiry_date else {
        return vec![Finding {
            verdict: Verdict::Refer,
            code: "DOCUMENT_EXPIRY_UNKNOWN",
            rule_id: "SBC-ART-8",
            message: "the expiry date cannot be read from the zone".into(),
            refusal_code: None,
            subject: SUBJECT_MRZ,
        }];
    };
    let mut findings = Vec::new();
    if expiry < input.crossing_date {
        let rule_id = match category {
            Category::FreeMovement => "DIR-2004-38-ART-5-4",
            Category::ThirdCountry => "SBC-ART-6-1-A",
        };
        let message = match category {
            Category::FreeMovement => {
                format!("document expired on {expiry}; nationality to be established")
            }
            Category::ThirdCountry => format!("document expired on {expiry}"),
        };
        findings.push(document_finding(
            rules,
            "DOCUMENT_EXPIRED",
            rule_id,
            message,
        ));
    } else if input.direction == Direction::Entry
        && let Some(months) = rules.months_after_departure
    {
        // Without a stated departure the stay is taken to end on the day of entry: the
        // strictest reading the traveller can still meet.
        let departure = input.intended_departure.unwrap_or(input.crossing_date);
        let needed = departure
            .checked_add_months(Months::new(months))
            .unwrap_or(NaiveDate::MAX);
        if expiry < needed {
            findings.push(document_finding(
                rules,
                "DOCUMENT_VALIDITY_TOO_SHORT",
                "SBC-ART-6-1-A-I",
                format!(
                    "document must be valid until at least {needed}, {months} months after departure on {departure}; it expires on {expiry}"
                ),
            ));
        }
    }
    if input.direction == Direction::Entry
        && let (Some(years), Some(issued)) = (rules.max_issue_age_years, input.issue_date)
    {
        let oldest = input
            .crossing_date
            .checked_sub_months(Months::new(years.saturating_mul(12)))
            .unwrap_or(NaiveDate::MIN);
        if issued < oldest {
            findings.push(document_finding(
                rules,
                "DOCUMENT_ISSUED_TOO_LONG_AGO",
                "SBC-ART-6-1-A-II",
                format!(
                    "document was issued on {issued}, more than {years} years before {}",
                    input.crossing_date
                ),
            ));
        }
    }
    findings
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
        run_issued(text, crossing, departure, None)
    }

    fn run_issued(
        text: &str,
        crossing: NaiveDate,
        departure: Option<NaiveDate>,
        issued: Option<NaiveDate>,
    ) -> TravellerCheck {
        let mrz = super::super::mrz::parse(text, crossing).unwrap();
        check(
            &CheckInput {
                mrz: &mrz,
                declared_category: None,
                direction: Direction::Entry,
                crossing_date: crossing,
                intended_departure: departure,
                issue_date: issued,
                reported: None,
                stay: None,
                visa: None,
                watchlist_hits: &[],
            },
            &ValidityRules::default(),
        )
    }

    #[test]
    fn sbc_art_6_1_a_ii_third_country_document_issued_within_ten_years() {
        let crossing = ymd(2026, 7, 15);
        let recent = run_issued(SERBIAN, crossing, None, Some(ymd(2016, 7, 15)));
        assert_eq!(recent.verdict, Verdict::Clear);
        let old = run_issued(SERBIAN, crossing, None, Some(ymd(2016, 7, 14)));
        assert_eq!(old.verdict, Verdict::Refuse);
        assert_eq!(old.findings[0].code, "DOCUMENT_ISSUED_TOO_LONG_AGO");
        assert_eq!(old.findings[0].refusal_code, Some('A'));
        // Union citizens are not held to the rule by default.
        let german = run_issued(GERMAN, crossing, None, Some(ymd(2010, 1, 1)));
        assert_eq!(german.verdict, Verdict::Clear);
    }

    #[test]
    fn category_rules_are_configuration() {
        let mrz = super::super::mrz::parse(GERMAN, ymd(2033, 8, 3)).unwrap();
        let strict = ValidityRules {
            free_movement: CategoryRules {
                refuse_invalid: true,
                ..ValidityRules::default().free_movement
            },
            ..ValidityRules::default()
        };
        let input = CheckInput {
            mrz: &mrz,
            declared_category: None,
            direction: Direction::Entry,
            crossing_date: ymd(2033, 8, 3),
            intended_departure: None,
            issue_date: None,
            reported: None,
            stay: None,
            visa: None,
            watchlist_hits: &[],
        };
        assert_eq!(check(&input, &strict).verdict, Verdict::Refuse);
        assert_eq!(
            check(&input, &ValidityRules::default()).verdict,
            Verdict::Refer
        );
    }

    fn serbian_entry(hits: &[Hit], adjust: impl FnOnce(&mut CheckInput<'_>)) -> TravellerCheck {
        let mrz = super::super::mrz::parse(SERBIAN, ymd(2026, 7, 15)).unwrap();
        let mut input = CheckInput {
            mrz: &mrz,
            declared_category: None,
            direction: Direction::Entry,
            crossing_date: ymd(2026, 7, 15),
            intended_departure: Some(ymd(2026, 7, 20)),
            issue_date: None,
            reported: None,
            stay: None,
            visa: None,
            watchlist_hits: hits,
        };
        adjust(&mut input);
        check(&input, &ValidityRules::default())
    }

    #[test]
    fn sbc_annex_v_b_a_a_reported_document_is_refused() {
        let result = serbian_entry(&[], |input| input.reported = Some(ReportStatus::Stolen));
        assert_eq!(result.verdict, Verdict::Refuse);
        assert_eq!(result.findings[0].code, "DOCUMENT_REPORTED");
        assert_eq!(result.findings[0].refusal_code, Some('A'));
    }

    #[test]
    fn sbc_annex_v_b_f_overstaying_entry_is_refused_and_overstay_on_exit_referred() {
        let assessment = super::super::stay::assess(&[], ymd(2026, 7, 15));
        let refused = serbian_entry(&[], |input| {
            input.stay = Some(StayOutcome {
                assessment,
                planned_overstay_days: 3,
            })
        });
        assert_eq!(refused.verdict, Verdict::Refuse);
        assert_eq!(refused.findings[0].refusal_code, Some('F'));
        let exit = serbian_entry(&[], |input| {
            input.direction = Direction::Exit;
            input.stay = Some(StayOutcome {
                assessment: StayAssessment {
                    overstay_days: 4,
                    ..assessment
                },
                planned_overstay_days: 0,
            })
        });
        assert_eq!(exit.verdict, Verdict::Refer);
        assert_eq!(exit.findings[0].code, "OVERSTAY");
    }

    #[test]
    fn sbc_annex_v_b_c_an_unusable_visa_is_refused_and_an_unknown_one_referred() {
        let refused = serbian_entry(&[], |input| input.visa = Some(VisaCheck::EntriesExhausted));
        assert_eq!(refused.verdict, Verdict::Refuse);
        assert_eq!(refused.findings[0].refusal_code, Some('C'));
        let unknown = serbian_entry(&[], |input| input.visa = Some(VisaCheck::NotIssued));
        assert_eq!(unknown.verdict, Verdict::Refer);
    }

    #[test]
    fn sbc_art_8_3_a_vi_a_watchlist_hit_refers_with_the_alert_id_and_never_refuses() {
        let hits = [Hit {
            alert_id: "SIS-42".into(),
            reason: "refusal of entry".into(),
            score: 0.97,
            fields: Vec::new(),
        }];
        let result = serbian_entry(&hits, |_| {});
        assert_eq!(result.verdict, Verdict::Refer);
        assert!(result.findings[0].message.contains("SIS-42"));
        assert_eq!(result.findings[0].refusal_code, None);
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
