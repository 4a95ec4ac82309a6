//! Configuration of the checks (`data/policy.toml`): the non-compliance threshold and the rate
//! it raises physical checks to, and the tolerance and validity of phytosanitary certificates.

use std::path::Path;

use figment::{
    Figment,
    providers::{Format, Toml},
};
use rust_decimal::Decimal;
use serde::Deserialize;

pub const DEFAULT_POLICY: &str = include_str!("../../data/policy.toml");

/// File in the data directory whose keys override the built-in policy.
pub const POLICY_FILE: &str = "sanitary-policy.toml";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub non_compliance_window_days: u32,
    pub non_compliance_min_results: u32,
    pub non_compliance_threshold_percent: Decimal,
    pub increased_physical_check_percent: Decimal,
    pub phytosanitary_quantity_tolerance_percent: Decimal,
    pub phytosanitary_certificate_validity_days: u32,
}

impl Policy {
    /// The built-in policy, then the keys of `override_file` when it exists.
    pub fn load(override_file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Toml::string(DEFAULT_POLICY));
        if let Some(file) = override_file.filter(|file| file.exists()) {
            figment = figment.merge(Toml::file_exact(file));
        }
        let policy: Self = figment.extract()?;
        let percents = [
            policy.non_compliance_threshold_percent,
            policy.increased_physical_check_percent,
            policy.phytosanitary_quantity_tolerance_percent,
        ];
        anyhow::ensure!(
            percents
                .iter()
                .all(|p| (Decimal::ZERO..=Decimal::ONE_HUNDRED).contains(p)),
            "sanitary policy percentages must be between 0 and 100"
        );
        Ok(policy)
    }

    pub fn default_policy() -> anyhow::Result<Self> {
        Self::load(None)
    }

    /// Regulation (EU) 2019/2129 Art. 8: an origin whose recent checks found enough
    /// non-compliance gets more physical checks. Too few results say nothing either way.
    pub fn is_non_compliance_high(&self, non_compliant: u64, total: u64) -> bool {
        total >= u64::from(self.non_compliance_min_results)
            && total > 0
            && Decimal::from(non_compliant) * Decimal::ONE_HUNDRED
                >= self.non_compliance_threshold_percent * Decimal::from(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regulation_2019_2129_art_8_high_non_compliance_needs_enough_results_and_the_threshold() {
        let policy = Policy::default_policy().unwrap();
        assert_eq!(policy.non_compliance_min_results, 5);
        assert!(policy.is_non_compliance_high(1, 10));
        assert!(!policy.is_non_compliance_high(1, 11));
        assert!(
            !policy.is_non_compliance_high(3, 4),
            "too few results to judge"
        );
        assert!(!policy.is_non_compliance_high(0, 0));
    }

    #[test]
    fn a_policy_file_overrides_single_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(POLICY_FILE);
        std::fs::write(&file, "phytosanitary_certificate_validity_days = 7\n").unwrap();
        let policy = Policy::load(Some(&file)).unwrap();
        assert_eq!(policy.phytosanitary_certificate_validity_days, 7);
        assert_eq!(policy.non_compliance_min_results, 5);
        std::fs::write(&file, "increased_physical_check_percent = \"150\"\n").unwrap();
        assert!(Policy::load(Some(&file)).is_err());
    }
}
