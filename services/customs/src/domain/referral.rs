//! Which goods customs refers to another authority, and with which document expected: the
//! veterinary and phytosanitary service with a health entry document, or a licensing authority
//! (CITES, dual-use). Both mappings are data (`data/*-referrals.csv`).

use std::io::Read;

use serde::Deserialize;

use super::Procedure;

pub const DEFAULT_SANITARY_REFERRALS: &str = include_str!("../../data/sanitary-referrals.csv");
pub const DEFAULT_LICENCE_REFERRALS: &str = include_str!("../../data/licence-referrals.csv");

#[derive(Debug, Clone, Deserialize)]
pub struct ReferralRule {
    pub prefix: String,
    pub document_type: String,
    /// Space-separated procedures the rule applies to (`IMPORT EXPORT`); empty for all.
    #[serde(default)]
    pub procedures: String,
    pub reason: String,
}

impl ReferralRule {
    fn applies_to(&self, procedure: Procedure) -> bool {
        self.procedures.is_empty()
            || self
                .procedures
                .split_whitespace()
                .any(|name| name == procedure.name())
    }
}

/// A table of referral rules matched on commodity code prefixes.
#[derive(Debug, Clone)]
pub struct ReferralTable {
    rules: Vec<ReferralRule>,
}

impl ReferralTable {
    pub fn from_csv(reader: impl Read) -> anyhow::Result<Self> {
        let mut rules: Vec<ReferralRule> = csv::Reader::from_reader(reader)
            .deserialize()
            .collect::<Result<_, _>>()?;
        for rule in &rules {
            anyhow::ensure!(
                !rule.prefix.is_empty() && rule.prefix.bytes().all(|b| b.is_ascii_digit()),
                "referral prefix {:?} is not a commodity code prefix",
                rule.prefix
            );
            for name in rule.procedures.split_whitespace() {
                anyhow::ensure!(
                    Procedure::from_name(name).is_some(),
                    "unknown procedure {name:?} in the referral for {}",
                    rule.prefix
                );
            }
        }
        // Longest prefix first, so the first match is the most specific.
        rules.sort_by_key(|rule| std::cmp::Reverse(rule.prefix.len()));
        Ok(Self { rules })
    }

    /// Goods under veterinary and phytosanitary control (Regulation (EU) 2017/625 Art. 47).
    pub fn sanitary() -> anyhow::Result<Self> {
        Self::from_csv(DEFAULT_SANITARY_REFERRALS.as_bytes())
    }

    /// Goods that need a CITES permit or a dual-use export authorisation.
    pub fn licences() -> anyhow::Result<Self> {
        Self::from_csv(DEFAULT_LICENCE_REFERRALS.as_bytes())
    }

    /// The most specific rule for a commodity code under a procedure, if there is one.
    pub fn rule_for(&self, code: &str, procedure: Procedure) -> Option<&ReferralRule> {
        self.rules
            .iter()
            .find(|rule| code.starts_with(&rule.prefix) && rule.applies_to(procedure))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(table: &ReferralTable, code: &str, procedure: Procedure) -> Option<String> {
        table
            .rule_for(code, procedure)
            .map(|rule| rule.document_type.clone())
    }

    #[test]
    fn regulation_2017_625_art_47_animal_products_and_plants_are_referred() {
        let referrals = ReferralTable::sanitary().unwrap();
        let import = Procedure::Import;
        assert_eq!(
            document(&referrals, "020230", import).as_deref(),
            Some("CHED-P")
        );
        assert_eq!(
            document(&referrals, "010221", import).as_deref(),
            Some("CHED-A")
        );
        assert_eq!(
            document(&referrals, "080810", import).as_deref(),
            Some("CHED-PP")
        );
        assert_eq!(
            document(&referrals, "160100", import).as_deref(),
            Some("CHED-P")
        );
        assert!(referrals.rule_for("847130", import).is_none());
    }

    #[test]
    fn regulation_338_97_cites_goods_need_a_permit_whatever_the_procedure() {
        let licences = ReferralTable::licences().unwrap();
        for procedure in [
            Procedure::Import,
            Procedure::Export,
            Procedure::PersonalLuggage,
        ] {
            assert_eq!(
                document(&licences, "960110", procedure).as_deref(),
                Some("CITES")
            );
        }
    }

    #[test]
    fn regulation_2021_821_art_3_dual_use_goods_need_an_authorisation_to_leave_only() {
        let licences = ReferralTable::licences().unwrap();
        assert_eq!(
            document(&licences, "90132000", Procedure::Export).as_deref(),
            Some("DUAL-USE")
        );
        assert!(licences.rule_for("90132000", Procedure::Import).is_none());
    }

    #[test]
    fn unknown_procedures_in_the_data_are_refused() {
        let csv = "prefix,document_type,procedures,reason\n2844,DUAL-USE,SMUGGLING,x\n";
        assert!(ReferralTable::from_csv(csv.as_bytes()).is_err());
    }
}
