//! Electronic phytosanitary certificates (ISPM 12; Regulation (EU) 2016/2031 Art. 71-76) checked
//! against the consignment they are presented with, and the treatments regulated pests require
//! (`data/regulated-pests.csv`).

use std::io::Read;

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{
    assessment::{Finding, Verdict},
    policy::Policy,
};

pub const DEFAULT_REGULATED_PESTS: &str = include_str!("../../data/regulated-pests.csv");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TreatmentType {
    Heat,
    Cold,
    Fumigation,
    Chemical,
    Irradiation,
}

/// A quantity with its UN/ECE Recommendation 20 unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    pub value: Decimal,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedLine {
    pub botanical_name: String,
    pub quantity: Option<Measured>,
}

/// What the check needs of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub certificate_id: String,
    pub origin_country: String,
    pub lines: Vec<CertifiedLine>,
    pub treatments: Vec<TreatmentType>,
    pub issue_date: NaiveDate,
}

/// The consignment the certificate is presented with.
#[derive(Debug, Clone)]
pub struct Presented<'a> {
    pub botanical_name: Option<&'a str>,
    pub origin_country: &'a str,
    pub commodity_code: &'a str,
    pub quantity: Option<&'a Measured>,
    pub day: NaiveDate,
    /// The consignment another assessment already presented this certificate with, if any.
    pub already_used_by: Option<&'a str>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PestRule {
    pub prefix: String,
    pub origin_country: String,
    pub pest: String,
    pub required_treatment: TreatmentType,
    pub legal_basis: String,
}

#[derive(Debug, Clone)]
pub struct PestRules {
    rules: Vec<PestRule>,
}

impl PestRules {
    pub fn from_csv(reader: impl Read) -> anyhow::Result<Self> {
        Ok(Self {
            rules: csv::Reader::from_reader(reader)
                .deserialize()
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn default_rules() -> anyhow::Result<Self> {
        Self::from_csv(DEFAULT_REGULATED_PESTS.as_bytes())
    }

    fn for_goods<'a>(
        &'a self,
        origin: &'a str,
        code: &'a str,
    ) -> impl Iterator<Item = &'a PestRule> {
        self.rules
            .iter()
            .filter(move |rule| rule.origin_country == origin && code.starts_with(&rule.prefix))
    }
}

fn refuse(code: &str, rule_id: &str, message: String) -> Finding {
    Finding {
        code: code.to_owned(),
        rule_id: rule_id.to_owned(),
        message,
        verdict: Verdict::Refuse,
    }
}

/// Every way in which the certificate does not cover the consignment; empty when it does.
pub fn check(
    certificate: &Certificate,
    presented: &Presented<'_>,
    pests: &PestRules,
    policy: &Policy,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let id = &certificate.certificate_id;
    // ISPM 12 section 1: a certificate covers one consignment; a replayed one is not accepted.
    if let Some(subject) = presented.already_used_by {
        findings.push(refuse(
            "PHYTO_CERTIFICATE_ALREADY_USED",
            "ISPM-12-1",
            format!("phytosanitary certificate {id} was already presented for {subject}"),
        ));
    }
    // ISPM 12 section 4: the certificate must be presented within its period of validity.
    let valid_until = certificate
        .issue_date
        .checked_add_days(Days::new(
            policy.phytosanitary_certificate_validity_days.into(),
        ))
        .unwrap_or(NaiveDate::MAX);
    if presented.day > valid_until {
        findings.push(refuse(
            "PHYTO_CERTIFICATE_EXPIRED",
            "ISPM-12-4",
            format!(
                "phytosanitary certificate {id} issued on {} was valid until {valid_until}",
                certificate.issue_date
            ),
        ));
    }
    // Regulation (EU) 2016/2031 Art. 76(1): the certificate must name the origin of the plants.
    if certificate.origin_country != presented.origin_country {
        findings.push(refuse(
            "PHYTO_ORIGIN_MISMATCH",
            "REG-2016-2031-ART-76",
            format!(
                "phytosanitary certificate {id} certifies plants from {}, the consignment is from {}",
                certificate.origin_country, presented.origin_country
            ),
        ));
    }
    // Regulation (EU) 2017/625 Art. 49(2)(a): identity check, certificate and consignment agree.
    let line = presented.botanical_name.and_then(|name| {
        certificate
            .lines
            .iter()
            .find(|line| line.botanical_name.eq_ignore_ascii_case(name.trim()))
    });
    match line {
        None => findings.push(refuse(
            "PHYTO_SPECIES_MISMATCH",
            "REG-2017-625-ART-49",
            format!(
                "phytosanitary certificate {id} does not certify {}",
                presented
                    .botanical_name
                    .unwrap_or("the consignment's species")
            ),
        )),
        Some(line) => {
            if let Some(problem) = quantity_problem(line, presented.quantity, policy) {
                findings.push(refuse(
                    "PHYTO_QUANTITY_MISMATCH",
                    "REG-2017-625-ART-49",
                    format!("phytosanitary certificate {id}: {problem}"),
                ));
            }
        }
    }
    // Implementing Regulation (EU) 2019/2072 Annex VII: the pest's special requirement is a
    // treatment the certificate must declare.
    for rule in pests.for_goods(presented.origin_country, presented.commodity_code) {
        if !certificate.treatments.contains(&rule.required_treatment) {
            findings.push(refuse(
                "PHYTO_TREATMENT_MISSING",
                "REG-2019-2072-ANNEX-VII",
                format!(
                    "{} from {} must be treated against {} ({:?} treatment): {}; certificate {id} declares none",
                    presented.commodity_code,
                    presented.origin_country,
                    rule.pest,
                    rule.required_treatment,
                    rule.legal_basis
                ),
            ));
        }
    }
    findings
}

fn quantity_problem(
    line: &CertifiedLine,
    presented: Option<&Measured>,
    policy: &Policy,
) -> Option<String> {
    let (Some(certified), Some(presented)) = (&line.quantity, presented) else {
        return None;
    };
    if !certified.unit.eq_ignore_ascii_case(&presented.unit) {
        return Some(format!(
            "certified in {}, presented in {}",
            certified.unit, presented.unit
        ));
    }
    let allowed =
        certified.value * policy.phytosanitary_quantity_tolerance_percent / Decimal::ONE_HUNDRED;
    let difference = (presented.value - certified.value).abs();
    (difference > allowed).then(|| {
        format!(
            "certified {} {unit}, presented {} {unit}: more than {} % apart",
            certified.value,
            presented.value,
            policy.phytosanitary_quantity_tolerance_percent,
            unit = certified.unit
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn kg(value: i64) -> Measured {
        Measured {
            value: Decimal::from(value),
            unit: "KGM".into(),
        }
    }

    fn oranges(treatments: Vec<TreatmentType>) -> Certificate {
        Certificate {
            certificate_id: "ZA-2026-000123".into(),
            origin_country: "ZAF".into(),
            lines: vec![CertifiedLine {
                botanical_name: "Citrus sinensis".into(),
                quantity: Some(kg(20_000)),
            }],
            treatments,
            issue_date: day(2026, 7, 1),
        }
    }

    fn codes(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.code.as_str()).collect()
    }

    fn presented<'a>(quantity: &'a Measured, day: NaiveDate) -> Presented<'a> {
        Presented {
            botanical_name: Some("citrus sinensis"),
            origin_country: "ZAF",
            commodity_code: "080510",
            quantity: Some(quantity),
            day,
            already_used_by: None,
        }
    }

    #[test]
    fn ispm_12_a_matching_certificate_with_its_cold_treatment_covers_the_consignment() {
        let policy = Policy::default_policy().unwrap();
        let pests = PestRules::default_rules().unwrap();
        let quantity = kg(21_000);
        let findings = check(
            &oranges(vec![TreatmentType::Cold]),
            &presented(&quantity, day(2026, 7, 10)),
            &pests,
            &policy,
        );
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn regulation_2019_2072_annex_vii_citrus_from_south_africa_needs_cold_treatment() {
        let policy = Policy::default_policy().unwrap();
        let pests = PestRules::default_rules().unwrap();
        let quantity = kg(20_000);
        let findings = check(
            &oranges(vec![TreatmentType::Fumigation]),
            &presented(&quantity, day(2026, 7, 10)),
            &pests,
            &policy,
        );
        assert_eq!(codes(&findings), ["PHYTO_TREATMENT_MISSING"]);
        assert!(findings[0].message.contains("false codling moth"));
    }

    #[test]
    fn ispm_12_quantity_beyond_tolerance_and_expiry_and_replay_are_caught() {
        let policy = Policy::default_policy().unwrap();
        let pests = PestRules::default_rules().unwrap();
        let quantity = kg(22_001);
        let mut late = presented(&quantity, day(2026, 7, 16));
        late.already_used_by = Some("consignments[0]");
        let findings = check(&oranges(vec![TreatmentType::Cold]), &late, &pests, &policy);
        assert_eq!(
            codes(&findings),
            [
                "PHYTO_CERTIFICATE_ALREADY_USED",
                "PHYTO_CERTIFICATE_EXPIRED",
                "PHYTO_QUANTITY_MISMATCH"
            ]
        );
        assert!(findings.iter().all(|f| f.verdict == Verdict::Refuse));
        // Fourteen days after issue is the last valid day; 10 % over is still within tolerance.
        let at_limit = kg(22_000);
        let last_day = presented(&at_limit, day(2026, 7, 15));
        assert!(
            check(
                &oranges(vec![TreatmentType::Cold]),
                &last_day,
                &pests,
                &policy
            )
            .is_empty()
        );
    }

    #[test]
    fn regulation_2016_2031_art_76_species_and_origin_must_match() {
        let policy = Policy::default_policy().unwrap();
        let pests = PestRules::default_rules().unwrap();
        let quantity = kg(20_000);
        let mut other = presented(&quantity, day(2026, 7, 2));
        other.botanical_name = Some("Citrus limon");
        other.origin_country = "EGY";
        let findings = check(&oranges(vec![]), &other, &pests, &policy);
        assert_eq!(
            codes(&findings),
            ["PHYTO_ORIGIN_MISMATCH", "PHYTO_SPECIES_MISMATCH"]
        );
    }
}
