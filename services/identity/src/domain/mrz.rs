//! ICAO Doc 9303 machine readable zones: TD1 (Part 5), TD2 (Part 6), TD3 (Part 4) and machine
//! readable visas MRV-A and MRV-B (Part 7), with the check digits of Part 3, 4.9.

use chrono::{Datelike, NaiveDate};

use super::country::{self, CountryCode};

/// Longest zone accepted: three TD1 lines or two TD3 lines with their separators and slack.
const MAX_MRZ_BYTES: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MrzFormat {
    Td1,
    Td2,
    Td3,
    MrvA,
    MrvB,
}

/// Why a text is not a machine readable zone at all (as opposed to a zone whose checks fail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MalformedMrz {
    TooLong,
    LineLayout { lines: Vec<usize> },
    InvalidCharacter { line: usize, column: usize },
}

impl std::fmt::Display for MalformedMrz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLong => write!(f, "must be at most {MAX_MRZ_BYTES} bytes"),
            Self::LineLayout { lines } => write!(
                f,
                "must be 3 lines of 30 (TD1), 2 of 36 (TD2, MRV-B) or 2 of 44 (TD3, MRV-A) characters; got lines of {lines:?}"
            ),
            Self::InvalidCharacter { line, column } => write!(
                f,
                "line {line} column {column}: only A-Z, 0-9 and < are allowed (ICAO 9303 Part 3, 4.3)"
            ),
        }
    }
}

/// A check digit as printed and as computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckDigit {
    pub field: &'static str,
    pub printed: char,
    pub computed: char,
}

impl CheckDigit {
    /// A filler where the data field is all fillers is allowed in place of 0 (Part 3, 4.9).
    pub fn is_valid(&self) -> bool {
        self.printed == self.computed || (self.printed == '<' && self.computed == '0')
    }
}

/// Sex as printed: F, M, X (unspecified, Part 3 Amendment), or `<`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Female,
    Male,
    Unspecified,
}

impl Sex {
    pub fn code(self) -> &'static str {
        match self {
            Self::Female => "F",
            Self::Male => "M",
            Self::Unspecified => "X",
        }
    }
}

/// A content problem in a well-formed zone; every one is reported, not only the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MrzFinding {
    CheckDigit(CheckDigit),
    InvalidDate {
        field: &'static str,
        printed: String,
    },
    InvalidSex {
        printed: char,
    },
    /// A code that is neither an ISO 3166-1 state nor one of ICAO 9303 Part 3's special codes.
    UnknownCountry {
        field: &'static str,
        printed: String,
    },
}

/// The fields of a machine readable zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mrz {
    pub format: MrzFormat,
    pub document_code: String,
    pub issuing_state: String,
    /// The whole number, including a TD1/TD2 long number's overflow into the optional data.
    pub document_number: String,
    pub primary_identifier: String,
    pub secondary_identifier: String,
    pub nationality: String,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    pub expiry_date: Option<NaiveDate>,
    pub optional_data: String,
    pub check_digits: Vec<CheckDigit>,
    pub findings: Vec<MrzFinding>,
}

/// Value of a character in check digit arithmetic: digits as such, A-Z as 10-35, `<` as 0.
fn character_value(c: u8) -> u32 {
    match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        b'A'..=b'Z' => u32::from(c - b'A') + 10,
        _ => 0,
    }
}

/// ICAO 9303 Part 3, 4.9: weights 7, 3, 1 repeated; the sum modulo 10.
pub fn check_digit(data: &str) -> char {
    const WEIGHTS: [u32; 3] = [7, 3, 1];
    let sum: u32 = data
        .bytes()
        .enumerate()
        .map(|(i, c)| character_value(c) * WEIGHTS[i % 3])
        .sum();
    char::from(b'0' + (sum % 10) as u8)
}

/// Splits and checks the shape of a zone: the layout and the character set.
fn lines(text: &str) -> Result<Vec<&str>, MalformedMrz> {
    if text.len() > MAX_MRZ_BYTES {
        return Err(MalformedMrz::TooLong);
    }
    let lines: Vec<&str> = text
        .trim()
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .collect();
    let lengths: Vec<usize> = lines.iter().map(|line| line.len()).collect();
    let layout_ok = matches!(lengths.as_slice(), [30, 30, 30] | [36, 36] | [44, 44]);
    for (line_index, line) in lines.iter().enumerate() {
        if let Some(column) = line
            .bytes()
            .position(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'<'))
        {
            return Err(MalformedMrz::InvalidCharacter {
                line: line_index + 1,
                column: column + 1,
            });
        }
    }
    if !layout_ok {
        return Err(MalformedMrz::LineLayout { lines: lengths });
    }
    Ok(lines)
}

/// A field without its trailing fillers.
fn field(text: &str) -> String {
    text.trim_end_matches('<').to_owned()
}

/// Primary and secondary identifiers (Part 3, 4.6): `<<` separates them, `<` separates words.
fn names(text: &str) -> (String, String) {
    let text = text.trim_end_matches('<');
    let (primary, secondary) = text.split_once("<<").unwrap_or((text, ""));
    let words = |part: &str| {
        part.split('<')
            .filter(|word| !word.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    (words(primary), words(secondary))
}

/// Collects check digits and findings while the fields are read.
struct Reader {
    today: NaiveDate,
    check_digits: Vec<CheckDigit>,
    findings: Vec<MrzFinding>,
}

impl Reader {
    fn new(today: NaiveDate) -> Self {
        Self {
            today,
            check_digits: Vec::new(),
            findings: Vec::new(),
        }
    }

    fn check(&mut self, field: &'static str, data: &str, printed: u8) {
        let digit = CheckDigit {
            field,
            printed: char::from(printed),
            computed: check_digit(data),
        };
        if !digit.is_valid() {
            self.findings.push(MrzFinding::CheckDigit(digit.clone()));
        }
        self.check_digits.push(digit);
    }

    /// YYMMDD with the century resolved: a birth date is never in the future; an expiry date
    /// lies within 50 years either side of today. Fillers mean an unknown date.
    fn date(&mut self, field: &'static str, text: &str, is_birth: bool) -> Option<NaiveDate> {
        if text.contains('<') {
            return None;
        }
        let number =
            |range: std::ops::Range<usize>| -> Option<u32> { text.get(range)?.parse().ok() };
        let parsed = (|| {
            let (yy, month, day) = (number(0..2)?, number(2..4)?, number(4..6)?);
            let current_century = self.today.year() - self.today.year() % 100;
            let mut year = current_century + yy as i32;
            if is_birth {
                let candidate = NaiveDate::from_ymd_opt(year, month, day)?;
                if candidate > self.today {
                    year -= 100;
                }
            } else if year > self.today.year() + 50 {
                year -= 100;
            } else if year < self.today.year() - 50 {
                year += 100;
            }
            NaiveDate::from_ymd_opt(year, month, day)
        })();
        if parsed.is_none() {
            self.findings.push(MrzFinding::InvalidDate {
                field,
                printed: text.to_owned(),
            });
        }
        parsed
    }

    fn sex(&mut self, printed: u8) -> Option<Sex> {
        match printed {
            b'F' => Some(Sex::Female),
            b'M' => Some(Sex::Male),
            b'X' | b'<' => Some(Sex::Unspecified),
            other => {
                self.findings.push(MrzFinding::InvalidSex {
                    printed: char::from(other),
                });
                None
            }
        }
    }

    /// A document number with its check digit; when the check digit position holds a filler,
    /// the number continues in the optional data up to its own check digit (Part 5, 4.2.2).
    fn document_number(&mut self, number: &str, printed: u8, optional: &str) -> (String, String) {
        if printed == b'<' && number.len() == 9 {
            let overflow = optional.split('<').next().unwrap_or_default();
            if let Some((last, rest)) = overflow.as_bytes().split_last() {
                let full = format!("{number}{}", &overflow[..rest.len()]);
                self.check("document_number", &full, *last);
                let remaining = optional.get(overflow.len()..).unwrap_or_default();
                return (full, field(remaining.trim_start_matches('<')));
            }
        }
        self.check("document_number", number, printed);
        (field(number), field(optional))
    }
}

/// Parses and verifies a zone. `today` resolves the century of two-digit years.
pub fn parse(text: &str, today: NaiveDate) -> Result<Mrz, MalformedMrz> {
    let lines = lines(text)?;
    let first = lines[0];
    let visa = first.starts_with('V');
    let format = match (lines.len(), first.len(), visa) {
        (3, _, _) => MrzFormat::Td1,
        (_, 36, false) => MrzFormat::Td2,
        (_, 36, true) => MrzFormat::MrvB,
        (_, _, false) => MrzFormat::Td3,
        (_, _, true) => MrzFormat::MrvA,
    };
    let mut reader = Reader::new(today);
    let document_code = field(&first[0..2]);
    let issuing_state = first[2..5].to_owned();
    let mrz = match format {
        MrzFormat::Td1 => {
            let (line1, line2, line3) = (lines[0], lines[1], lines[2]);
            let (document_number, optional_1) =
                reader.document_number(&line1[5..14], line1.as_bytes()[14], &line1[15..30]);
            let birth_date = reader.date("birth_date", &line2[0..6], true);
            reader.check("birth_date", &line2[0..6], line2.as_bytes()[6]);
            let sex = reader.sex(line2.as_bytes()[7]);
            let expiry_date = reader.date("expiry_date", &line2[8..14], false);
            reader.check("expiry_date", &line2[8..14], line2.as_bytes()[14]);
            let composite = format!(
                "{}{}{}{}",
                &line1[5..30],
                &line2[0..7],
                &line2[8..15],
                &line2[18..29]
            );
            reader.check("composite", &composite, line2.as_bytes()[29]);
            let (primary, secondary) = names(line3);
            let optional_2 = field(&line2[18..29]);
            let optional_data = [optional_1, optional_2]
                .into_iter()
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            Mrz {
                format,
                document_code,
                issuing_state,
                document_number,
                primary_identifier: primary,
                secondary_identifier: secondary,
                nationality: line2[15..18].to_owned(),
                birth_date,
                sex,
                expiry_date,
                optional_data,
                check_digits: Vec::new(),
                findings: Vec::new(),
            }
        }
        MrzFormat::Td2 | MrzFormat::Td3 | MrzFormat::MrvA | MrzFormat::MrvB => {
            let (line1, line2) = (lines[0], lines[1]);
            let width = line2.len();
            let has_composite = matches!(format, MrzFormat::Td2 | MrzFormat::Td3);
            let optional_end = if has_composite { width - 1 } else { width };
            let (document_number, optional_data) = match format {
                MrzFormat::Td2 => {
                    reader.document_number(&line2[0..9], line2.as_bytes()[9], &line2[28..35])
                }
                _ => {
                    reader.check("document_number", &line2[0..9], line2.as_bytes()[9]);
                    (field(&line2[0..9]), String::new())
                }
            };
            let birth_date = reader.date("birth_date", &line2[13..19], true);
            reader.check("birth_date", &line2[13..19], line2.as_bytes()[19]);
            let sex = reader.sex(line2.as_bytes()[20]);
            let expiry_date = reader.date("expiry_date", &line2[21..27], false);
            reader.check("expiry_date", &line2[21..27], line2.as_bytes()[27]);
            let optional_data = match format {
                MrzFormat::Td3 => {
                    reader.check("optional_data", &line2[28..42], line2.as_bytes()[42]);
                    field(&line2[28..42])
                }
                MrzFormat::Td2 => optional_data,
                _ => field(&line2[28..optional_end]),
            };
            if has_composite {
                let composite = format!(
                    "{}{}{}",
                    &line2[0..10],
                    &line2[13..20],
                    &line2[21..width - 1]
                );
                reader.check("composite", &composite, line2.as_bytes()[width - 1]);
            }
            let (primary, secondary) = names(&line1[5..]);
            Mrz {
                format,
                document_code,
                issuing_state,
                document_number,
                primary_identifier: primary,
                secondary_identifier: secondary,
                nationality: line2[10..13].to_owned(),
                birth_date,
                sex,
                expiry_date,
                optional_data,
                check_digits: Vec::new(),
                findings: Vec::new(),
            }
        }
    };
    for (field, code) in [
        ("issuing_state", &mrz.issuing_state),
        ("nationality", &mrz.nationality),
    ] {
        if country::classify(code) == CountryCode::Unknown {
            reader.findings.push(MrzFinding::UnknownCountry {
                field,
                printed: code.clone(),
            });
        }
    }
    Ok(Mrz {
        check_digits: reader.check_digits,
        findings: reader.findings,
        ..mrz
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    const TD3_SPECIMEN: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";

    #[test]
    fn icao_9303_part_4_specimen_parses_with_every_digit_valid() {
        let mrz = parse(TD3_SPECIMEN, today()).unwrap();
        assert_eq!(mrz.format, MrzFormat::Td3);
        assert_eq!(mrz.document_code, "P");
        assert_eq!(mrz.issuing_state, "UTO");
        assert_eq!(mrz.document_number, "L898902C3");
        assert_eq!(mrz.primary_identifier, "ERIKSSON");
        assert_eq!(mrz.secondary_identifier, "ANNA MARIA");
        assert_eq!(mrz.nationality, "UTO");
        assert_eq!(mrz.birth_date, Some(ymd(1974, 8, 12)));
        assert_eq!(mrz.sex, Some(Sex::Female));
        assert_eq!(mrz.expiry_date, Some(ymd(2012, 4, 15)));
        assert_eq!(mrz.optional_data, "ZE184226B");
        let fields: Vec<_> = mrz.check_digits.iter().map(|d| d.field).collect();
        assert_eq!(
            fields,
            [
                "document_number",
                "birth_date",
                "expiry_date",
                "optional_data",
                "composite"
            ]
        );
        assert!(mrz.check_digits.iter().all(CheckDigit::is_valid));
        assert!(mrz.findings.is_empty());
    }

    #[test]
    fn icao_9303_part_5_td1_specimen_parses_with_every_digit_valid() {
        let text = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<";
        let mrz = parse(text, today()).unwrap();
        assert_eq!(mrz.format, MrzFormat::Td1);
        assert_eq!(mrz.document_number, "D23145890");
        assert_eq!(mrz.birth_date, Some(ymd(1974, 8, 12)));
        assert_eq!(mrz.secondary_identifier, "ANNA MARIA");
        assert!(mrz.findings.is_empty(), "{:?}", mrz.findings);
    }

    #[test]
    fn icao_9303_part_5_td1_long_document_number_overflows_into_optional_data() {
        let text = "I<UTOD23145890<7349<<<<<<<<<<<\n3407127M9507122UTO<<<<<<<<<<<2\nSTEVENSON<<PETER<JOHN<<<<<<<<<";
        let mrz = parse(text, today()).unwrap();
        assert_eq!(mrz.document_number, "D23145890734");
        assert!(mrz.findings.is_empty(), "{:?}", mrz.findings);
    }

    #[test]
    fn icao_9303_part_6_td2_specimen_parses_with_every_digit_valid() {
        let text = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6";
        let mrz = parse(text, today()).unwrap();
        assert_eq!(mrz.format, MrzFormat::Td2);
        assert_eq!(mrz.document_number, "D23145890");
        assert!(mrz.findings.is_empty(), "{:?}", mrz.findings);
    }

    #[test]
    fn icao_9303_part_7_mrv_a_and_mrv_b_have_no_composite_digit() {
        let mrv_a = "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL8988901C4XXX4009078F96121096ZE184226B<<<<<<";
        let mrz = parse(mrv_a, today()).unwrap();
        assert_eq!(mrz.format, MrzFormat::MrvA);
        assert!(mrz.findings.is_empty(), "{:?}", mrz.findings);
        assert!(mrz.check_digits.iter().all(|d| d.field != "composite"));
        let mrv_b = "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nL8988901C4XXX4009078F9612109<<<<<<<<";
        let mrz = parse(mrv_b, today()).unwrap();
        assert_eq!(mrz.format, MrzFormat::MrvB);
        assert!(mrz.findings.is_empty(), "{:?}", mrz.findings);
    }

    #[test]
    fn icao_9303_part_3_every_failing_check_digit_is_reported() {
        let altered = TD3_SPECIMEN.replace("L898902C36", "L898902C37");
        let mrz = parse(&altered, today()).unwrap();
        let failing: Vec<_> = mrz
            .findings
            .iter()
            .map(|f| match f {
                MrzFinding::CheckDigit(d) => d.field,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(failing, ["document_number", "composite"]);
    }

    #[test]
    fn check_digit_weights_are_7_3_1_with_letters_from_10() {
        assert_eq!(check_digit("L898902C3"), '6');
        assert_eq!(check_digit("740812"), '2');
        assert_eq!(check_digit("<<<<<<"), '0');
    }

    #[test]
    fn a_birth_date_is_never_in_the_future() {
        let text = TD3_SPECIMEN.replace("7408122", "2501012");
        let mrz = parse(&text, today()).unwrap();
        assert_eq!(mrz.birth_date, Some(ymd(2025, 1, 1)));
        let text = TD3_SPECIMEN.replace("7408122", "2712316");
        let mrz = parse(&text, today()).unwrap();
        assert_eq!(mrz.birth_date, Some(ymd(1927, 12, 31)));
    }

    #[test]
    fn malformed_zones_are_refused_before_any_check() {
        assert!(matches!(
            parse(&TD3_SPECIMEN.to_lowercase(), today()),
            Err(MalformedMrz::InvalidCharacter { line: 1, .. })
        ));
        assert!(matches!(
            parse("P<UTO", today()),
            Err(MalformedMrz::LineLayout { .. })
        ));
        assert!(matches!(
            parse(&"A".repeat(1 << 20), today()),
            Err(MalformedMrz::TooLong)
        ));
        assert!(matches!(
            parse("", today()),
            Err(MalformedMrz::LineLayout { .. })
        ));
        let accented = TD3_SPECIMEN.replace("ERIKSSON", "ÉRIKSSON");
        assert!(parse(&accented, today()).is_err());
    }

    #[test]
    fn icao_9303_part_3_unknown_country_codes_are_findings_and_special_codes_are_not() {
        let text = TD3_SPECIMEN.replace("P<UTO", "P<QQQ");
        let mrz = parse(&text, today()).unwrap();
        assert_eq!(
            mrz.findings,
            [MrzFinding::UnknownCountry {
                field: "issuing_state",
                printed: "QQQ".into()
            }]
        );
        for special in ["GBD", "UNO", "XXA", "EUE"] {
            let text = TD3_SPECIMEN.replace("P<UTO", &format!("P<{special}"));
            let mrz = parse(&text, today()).unwrap();
            assert!(mrz.findings.is_empty(), "{special}: {:?}", mrz.findings);
        }
    }

    #[test]
    fn impossible_dates_and_sexes_are_findings() {
        let text = TD3_SPECIMEN.replace("7408122F", "7413122Q");
        let mrz = parse(&text, today()).unwrap();
        assert!(mrz.findings.contains(&MrzFinding::InvalidDate {
            field: "birth_date",
            printed: "741312".into()
        }));
        assert!(
            mrz.findings
                .contains(&MrzFinding::InvalidSex { printed: 'Q' })
        );
    }

    /// Writes a TD3 zone from its fields with every check digit computed (ICAO 9303 Part 4).
    fn td3(
        number: &str,
        nationality: &str,
        birth: &str,
        sex: char,
        expiry: &str,
        optional: &str,
        names: &str,
    ) -> String {
        let pad = |text: &str, width: usize| format!("{text:<<width$}");
        let number = pad(number, 9);
        let optional = pad(optional, 14);
        let mut line2 = format!(
            "{number}{}{nationality}{birth}{}{sex}{expiry}{}{optional}{}",
            check_digit(&number),
            check_digit(birth),
            check_digit(expiry),
            check_digit(&optional)
        );
        let composite = format!("{}{}{}", &line2[0..10], &line2[13..20], &line2[21..43]);
        line2.push(check_digit(&composite));
        format!("{}\n{line2}", pad(&format!("P<{nationality}{names}"), 44))
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn yymmdd() -> impl Strategy<Value = String> {
            (0u32..100, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y:02}{m:02}{d:02}"))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            /// No input, however wrong, panics the parser: it answers with a zone or a reason.
            #[test]
            fn any_text_is_parsed_or_refused_without_panic(text in "\\PC{0,120}") {
                let _ = parse(&text, today());
            }

            /// Text shaped like a zone (the right alphabet and line lengths) never panics.
            #[test]
            fn any_zone_shaped_text_is_parsed_without_panic(
                lines in prop_oneof![
                    "[A-Z0-9<]{30}\n[A-Z0-9<]{30}\n[A-Z0-9<]{30}",
                    "[A-Z0-9<]{36}\n[A-Z0-9<]{36}",
                    "[A-Z0-9<]{44}\n[A-Z0-9<]{44}",
                ]
            ) {
                let mrz = parse(&lines, today()).unwrap();
                let failing_digits = mrz.check_digits.iter().filter(|d| !d.is_valid()).count();
                let reported = mrz.findings.iter().filter(|f| matches!(f, MrzFinding::CheckDigit(_))).count();
                prop_assert_eq!(failing_digits, reported);
            }

            /// A zone written with correct check digits reads back field by field (Part 4).
            #[test]
            fn generated_td3_zones_round_trip(
                number in "[A-Z0-9]{1,9}",
                nationality in prop::sample::select(vec!["SRB", "NZL", "D<<", "GBR", "XXA", "UTO"]),
                birth in yymmdd(),
                sex in prop::sample::select(vec!['F', 'M', 'X']),
                expiry in yymmdd(),
                optional in "[A-Z0-9]{0,14}",
                surname in "[A-Z]{1,15}",
                given in "[A-Z]{1,15}",
            ) {
                let names = format!("{surname}<<{given}");
                let text = td3(&number, nationality, &birth, sex, &expiry, &optional, &names);
                let mrz = parse(&text, today()).unwrap();
                prop_assert!(mrz.findings.is_empty(), "{:?}", mrz.findings);
                prop_assert_eq!(mrz.document_number, number);
                prop_assert_eq!(mrz.nationality, nationality);
                prop_assert_eq!(mrz.optional_data, optional);
                prop_assert_eq!(mrz.primary_identifier, surname);
                prop_assert_eq!(mrz.secondary_identifier, given);
                let birth_date = mrz.birth_date.unwrap();
                prop_assert!(birth_date <= today());
                prop_assert_eq!(birth_date.format("%y%m%d").to_string(), birth);
                prop_assert_eq!(mrz.expiry_date.unwrap().format("%y%m%d").to_string(), expiry);
                let printed_sex = sex.to_string();
                prop_assert_eq!(mrz.sex.map(Sex::code), Some(printed_sex.as_str()));
            }
        }
    }
}
