//! The control regime by commodity: health entry document type and check frequencies, as data
//! (`data/health-entry-documents.csv`).

use std::io::Read;

use rust_decimal::Decimal;
use serde::Deserialize;

pub const DEFAULT_REGIMES: &str = include_str!("../../data/health-entry-documents.csv");

/// Common Health Entry Document types (Implementing Regulation (EU) 2019/1715 Art. 39).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum DocumentType {
    #[serde(rename = "CHED-A")]
    ChedA,
    #[serde(rename = "CHED-P")]
    ChedP,
    #[serde(rename = "CHED-PP")]
    ChedPp,
    #[serde(rename = "CHED-D")]
    ChedD,
}

impl DocumentType {
    pub fn name(self) -> &'static str {
        match self {
            Self::ChedA => "CHED-A",
            Self::ChedP => "CHED-P",
            Self::ChedPp => "CHED-PP",
            Self::ChedD => "CHED-D",
        }
    }

    /// `CHED_P` for reason codes.
    pub fn code(self) -> &'static str {
        match self {
            Self::ChedA => "CHED_A",
            Self::ChedP => "CHED_P",
            Self::ChedPp => "CHED_PP",
            Self::ChedD => "CHED_D",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Regime {
    pub prefix: String,
    pub document_type: DocumentType,
    pub commodity_group: String,
    pub identity_check_percent: Decimal,
    pub physical_check_percent: Decimal,
    pub legal_basis: String,
}

#[derive(Debug, Clone)]
pub struct Regimes {
    by_longest_prefix: Vec<Regime>,
}

impl Regimes {
    pub fn from_csv(reader: impl Read) -> anyhow::Result<Self> {
        let mut regimes: Vec<Regime> = csv::Reader::from_reader(reader)
            .deserialize()
            .collect::<Result<_, _>>()?;
        for regime in &regimes {
            let percent = Decimal::ONE_HUNDRED;
            anyhow::ensure!(
                regime.identity_check_percent <= percent
                    && regime.physical_check_percent <= percent
                    && regime.identity_check_percent >= Decimal::ZERO
                    && regime.physical_check_percent >= Decimal::ZERO,
                "check frequencies of {} must be between 0 and 100",
                regime.prefix
            );
        }
        regimes.sort_by_key(|regime| std::cmp::Reverse(regime.prefix.len()));
        Ok(Self {
            by_longest_prefix: regimes,
        })
    }

    pub fn default_regimes() -> anyhow::Result<Self> {
        Self::from_csv(DEFAULT_REGIMES.as_bytes())
    }

    /// The regime of the most specific prefix of `code`, if the goods are under control.
    pub fn for_code(&self, code: &str) -> Option<&Regime> {
        self.by_longest_prefix
            .iter()
            .find(|regime| code.starts_with(&regime.prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regulation_2017_625_art_47_each_category_maps_to_its_ched() {
        let regimes = Regimes::default_regimes().unwrap();
        let document = |code| regimes.for_code(code).map(|r| r.document_type);
        assert_eq!(document("010221"), Some(DocumentType::ChedA));
        assert_eq!(document("020230"), Some(DocumentType::ChedP));
        assert_eq!(document("040690"), Some(DocumentType::ChedP));
        assert_eq!(document("080810"), Some(DocumentType::ChedPp));
        assert_eq!(document("440799"), Some(DocumentType::ChedPp));
        assert_eq!(document("847130"), None);
    }

    #[test]
    fn regulation_2019_2129_live_animals_are_always_physically_checked() {
        let regimes = Regimes::default_regimes().unwrap();
        assert_eq!(
            regimes.for_code("010121").unwrap().physical_check_percent,
            Decimal::ONE_HUNDRED
        );
        assert_eq!(
            regimes.for_code("040900").unwrap().physical_check_percent,
            Decimal::ONE
        );
    }
}
