//! Which goods customs refers to the veterinary and phytosanitary service, and with which
//! health entry document expected. The mapping is data (`data/sanitary-referrals.csv`).

use std::io::Read;

use serde::Deserialize;

pub const DEFAULT_SANITARY_REFERRALS: &str = include_str!("../../data/sanitary-referrals.csv");

#[derive(Debug, Clone, Deserialize)]
pub struct SanitaryRule {
    pub prefix: String,
    pub document_type: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct SanitaryReferrals {
    rules: Vec<SanitaryRule>,
}

impl SanitaryReferrals {
    pub fn from_csv(reader: impl Read) -> anyhow::Result<Self> {
        let mut rules: Vec<SanitaryRule> = csv::Reader::from_reader(reader)
            .deserialize()
            .collect::<Result<_, _>>()?;
        // Longest prefix first, so the first match is the most specific.
        rules.sort_by_key(|rule| std::cmp::Reverse(rule.prefix.len()));
        Ok(Self { rules })
    }

    pub fn default_rules() -> anyhow::Result<Self> {
        Self::from_csv(DEFAULT_SANITARY_REFERRALS.as_bytes())
    }

    /// The rule for a commodity code, if its goods fall under sanitary control.
    pub fn rule_for(&self, code: &str) -> Option<&SanitaryRule> {
        self.rules
            .iter()
            .find(|rule| code.starts_with(&rule.prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regulation_2017_625_art_47_animal_products_and_plants_are_referred() {
        let referrals = SanitaryReferrals::default_rules().unwrap();
        assert_eq!(
            referrals
                .rule_for("020230")
                .map(|r| r.document_type.as_str()),
            Some("CHED-P")
        );
        assert_eq!(
            referrals
                .rule_for("010221")
                .map(|r| r.document_type.as_str()),
            Some("CHED-A")
        );
        assert_eq!(
            referrals
                .rule_for("080810")
                .map(|r| r.document_type.as_str()),
            Some("CHED-PP")
        );
        assert_eq!(
            referrals
                .rule_for("160100")
                .map(|r| r.document_type.as_str()),
            Some("CHED-P")
        );
        assert!(referrals.rule_for("847130").is_none());
    }
}
