//! The control regime by commodity, species and origin: health entry document type and check
//! frequencies, as data (`data/health-entry-documents.csv`, `data/origin-frequencies.csv`,
//! `data/increased-controls.csv`).

use std::io::Read;

use rust_decimal::Decimal;
use serde::{Deserialize, de::DeserializeOwned};

pub const DEFAULT_REGIMES: &str = include_str!("../../data/health-entry-documents.csv");
pub const DEFAULT_ORIGIN_FREQUENCIES: &str = include_str!("../../data/origin-frequencies.csv");
pub const DEFAULT_INCREASED_CONTROLS: &str = include_str!("../../data/increased-controls.csv");

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

    /// `CHEDP` as TRACES writes it at the start of a reference number.
    pub fn reference_prefix(self) -> &'static str {
        match self {
            Self::ChedA => "CHEDA",
            Self::ChedP => "CHEDP",
            Self::ChedPp => "CHEDPP",
            Self::ChedD => "CHEDD",
        }
    }
}

/// One row of `health-entry-documents.csv`.
#[derive(Debug, Clone, Deserialize)]
pub struct Regime {
    pub prefix: String,
    /// Empty when the row holds for every species under the prefix.
    pub species_group: String,
    pub document_type: DocumentType,
    pub commodity_group: String,
    pub identity_check_percent: Decimal,
    pub physical_check_percent: Decimal,
    pub laboratory_percent: Decimal,
    pub legal_basis: String,
}

/// A physical check rate agreed for an origin (Regulation (EU) 2019/2129 Art. 7).
#[derive(Debug, Clone, Deserialize)]
pub struct OriginFrequency {
    pub prefix: String,
    pub origin_country: String,
    pub identity_check_percent: Decimal,
    pub physical_check_percent: Decimal,
    pub legal_basis: String,
}

/// Food and feed of non-animal origin under increased controls from one origin
/// (Implementing Regulation (EU) 2019/1793 Annex I): it needs a CHED-D.
#[derive(Debug, Clone, Deserialize)]
pub struct IncreasedControl {
    pub prefix: String,
    pub origin_country: String,
    pub hazard: String,
    pub identity_check_percent: Decimal,
    pub physical_check_percent: Decimal,
    pub legal_basis: String,
}

/// What a consignment needs: the document, the rates and where they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlRegime {
    pub document_type: DocumentType,
    pub commodity_group: String,
    pub identity_check_percent: Decimal,
    pub physical_check_percent: Decimal,
    pub laboratory_percent: Decimal,
    pub legal_basis: String,
    /// The act the rates come from (the regime's, an origin agreement's, increased controls').
    pub rate_basis: String,
    /// The hazard of increased controls (CHED-D), which a laboratory sample looks for.
    pub hazard: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Regimes {
    by_longest_prefix: Vec<Regime>,
    origin_frequencies: Vec<OriginFrequency>,
    increased_controls: Vec<IncreasedControl>,
}

fn read_rows<T: DeserializeOwned>(reader: impl Read) -> anyhow::Result<Vec<T>> {
    Ok(csv::Reader::from_reader(reader)
        .deserialize()
        .collect::<Result<_, _>>()?)
}

fn ensure_percent(what: &str, prefix: &str, percents: &[Decimal]) -> anyhow::Result<()> {
    anyhow::ensure!(
        percents
            .iter()
            .all(|p| (Decimal::ZERO..=Decimal::ONE_HUNDRED).contains(p)),
        "{what} rates of {prefix} must be between 0 and 100"
    );
    Ok(())
}

impl Regimes {
    pub fn from_csv(
        regimes: impl Read,
        origin_frequencies: impl Read,
        increased_controls: impl Read,
    ) -> anyhow::Result<Self> {
        let mut regimes: Vec<Regime> = read_rows(regimes)?;
        for regime in &regimes {
            ensure_percent(
                "check",
                &regime.prefix,
                &[
                    regime.identity_check_percent,
                    regime.physical_check_percent,
                    regime.laboratory_percent,
                ],
            )?;
        }
        // Longest prefix first; at equal length a row for a species group before the general one.
        regimes.sort_by_key(|regime| {
            (
                std::cmp::Reverse(regime.prefix.len()),
                regime.species_group.is_empty(),
            )
        });
        let origin_frequencies: Vec<OriginFrequency> = read_rows(origin_frequencies)?;
        for row in &origin_frequencies {
            ensure_percent(
                "origin",
                &row.prefix,
                &[row.identity_check_percent, row.physical_check_percent],
            )?;
        }
        let increased_controls: Vec<IncreasedControl> = read_rows(increased_controls)?;
        for row in &increased_controls {
            ensure_percent(
                "increased control",
                &row.prefix,
                &[row.identity_check_percent, row.physical_check_percent],
            )?;
        }
        Ok(Self {
            by_longest_prefix: regimes,
            origin_frequencies,
            increased_controls,
        })
    }

    pub fn default_regimes() -> anyhow::Result<Self> {
        Self::from_csv(
            DEFAULT_REGIMES.as_bytes(),
            DEFAULT_ORIGIN_FREQUENCIES.as_bytes(),
            DEFAULT_INCREASED_CONTROLS.as_bytes(),
        )
    }

    /// The regime row of the most specific prefix of `code` for the species group, if the goods
    /// are under control regardless of origin.
    pub fn for_code(&self, code: &str, species_group: Option<&str>) -> Option<&Regime> {
        self.by_longest_prefix.iter().find(|regime| {
            code.starts_with(&regime.prefix)
                && (regime.species_group.is_empty()
                    || Some(regime.species_group.as_str()) == species_group)
        })
    }

    /// Whether any row, for any origin, puts `code` under control.
    pub fn is_controlled(&self, code: &str) -> bool {
        self.by_longest_prefix
            .iter()
            .any(|r| code.starts_with(&r.prefix))
            || self
                .increased_controls
                .iter()
                .any(|r| code.starts_with(&r.prefix))
    }

    /// The document and rates for goods of `code` and species group from `origin`.
    pub fn resolve(
        &self,
        code: &str,
        species_group: Option<&str>,
        origin: &str,
    ) -> Option<ControlRegime> {
        // Implementing Regulation (EU) 2019/1793 Art. 5: listed food from a listed origin enters
        // under increased controls with a CHED-D.
        if let Some(control) = self
            .increased_controls
            .iter()
            .filter(|r| r.origin_country == origin && code.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())
        {
            return Some(ControlRegime {
                document_type: DocumentType::ChedD,
                commodity_group: format!("food under increased controls for {}", control.hazard),
                identity_check_percent: control.identity_check_percent,
                physical_check_percent: control.physical_check_percent,
                laboratory_percent: Decimal::ONE_HUNDRED,
                legal_basis: control.legal_basis.clone(),
                rate_basis: control.legal_basis.clone(),
                hazard: Some(control.hazard.clone()),
            });
        }
        let regime = self.for_code(code, species_group)?;
        let mut resolved = ControlRegime {
            document_type: regime.document_type,
            commodity_group: regime.commodity_group.clone(),
            identity_check_percent: regime.identity_check_percent,
            physical_check_percent: regime.physical_check_percent,
            laboratory_percent: regime.laboratory_percent,
            legal_basis: regime.legal_basis.clone(),
            rate_basis: regime.legal_basis.clone(),
            hazard: None,
        };
        // Regulation (EU) 2019/2129 Art. 7: an agreement with the origin sets its own rate.
        if let Some(agreed) = self
            .origin_frequencies
            .iter()
            .filter(|r| r.origin_country == origin && code.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())
        {
            resolved.identity_check_percent = agreed.identity_check_percent;
            resolved.physical_check_percent = agreed.physical_check_percent;
            resolved.rate_basis = agreed.legal_basis.clone();
        }
        Some(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(
        regimes: &Regimes,
        code: &str,
        group: Option<&str>,
        origin: &str,
    ) -> Option<DocumentType> {
        regimes
            .resolve(code, group, origin)
            .map(|r| r.document_type)
    }

    #[test]
    fn regulation_2017_625_art_47_each_category_maps_to_its_ched() {
        let regimes = Regimes::default_regimes().unwrap();
        assert_eq!(
            document(&regimes, "010221", None, "ARG"),
            Some(DocumentType::ChedA)
        );
        assert_eq!(
            document(&regimes, "020230", None, "ARG"),
            Some(DocumentType::ChedP)
        );
        assert_eq!(
            document(&regimes, "040690", None, "ARG"),
            Some(DocumentType::ChedP)
        );
        assert_eq!(
            document(&regimes, "080810", None, "ARG"),
            Some(DocumentType::ChedPp)
        );
        assert_eq!(
            document(&regimes, "440799", None, "ARG"),
            Some(DocumentType::ChedPp)
        );
        assert_eq!(document(&regimes, "847130", None, "ARG"), None);
    }

    #[test]
    fn regulation_2017_625_art_47_live_fish_and_semen_need_a_ched_a_not_a_ched_p() {
        let regimes = Regimes::default_regimes().unwrap();
        assert_eq!(
            document(&regimes, "030111", None, "THA"),
            Some(DocumentType::ChedA)
        );
        assert_eq!(
            document(&regimes, "030211", None, "THA"),
            Some(DocumentType::ChedP)
        );
        assert_eq!(
            document(&regimes, "051110", None, "USA"),
            Some(DocumentType::ChedA)
        );
    }

    #[test]
    fn regulation_2019_2129_the_species_group_selects_its_own_rates() {
        let regimes = Regimes::default_regimes().unwrap();
        let ornamental = regimes
            .resolve("030111", Some("ornamental fish"), "SGP")
            .unwrap();
        assert_eq!(ornamental.physical_check_percent, Decimal::from(50));
        let other_fish = regimes.resolve("030111", Some("fish"), "SGP").unwrap();
        assert_eq!(other_fish.physical_check_percent, Decimal::ONE_HUNDRED);
    }

    #[test]
    fn regulation_2019_2129_live_animals_are_always_physically_checked() {
        let regimes = Regimes::default_regimes().unwrap();
        assert_eq!(
            regimes
                .resolve("010121", None, "SRB")
                .unwrap()
                .physical_check_percent,
            Decimal::ONE_HUNDRED
        );
        assert_eq!(
            regimes
                .resolve("040900", None, "ARG")
                .unwrap()
                .physical_check_percent,
            Decimal::ONE
        );
    }

    #[test]
    fn regulation_2019_2129_art_7_an_origin_agreement_lowers_the_physical_rate() {
        let regimes = Regimes::default_regimes().unwrap();
        let new_zealand = regimes.resolve("020442", None, "NZL").unwrap();
        assert_eq!(new_zealand.physical_check_percent, Decimal::ONE);
        assert!(new_zealand.rate_basis.contains("97/132/EC"));
        let argentina = regimes.resolve("020442", None, "ARG").unwrap();
        assert_eq!(argentina.physical_check_percent, Decimal::from(15));
    }

    #[test]
    fn regulation_2019_1793_listed_food_from_a_listed_origin_needs_a_ched_d() {
        let regimes = Regimes::default_regimes().unwrap();
        let pepper = regimes.resolve("09041100", None, "BRA").unwrap();
        assert_eq!(pepper.document_type, DocumentType::ChedD);
        assert_eq!(pepper.hazard.as_deref(), Some("Salmonella"));
        assert_eq!(pepper.physical_check_percent, Decimal::from(20));
        // The same pepper from an origin not listed is not under official border controls.
        assert_eq!(document(&regimes, "09041100", None, "VNM"), None);
        assert!(regimes.is_controlled("090411"));
    }

    #[test]
    fn rates_outside_0_to_100_are_refused_when_loaded() {
        let bad = "prefix,species_group,document_type,commodity_group,identity_check_percent,physical_check_percent,laboratory_percent,legal_basis\n02,,CHED-P,meat,100,150,0,x\n";
        assert!(
            Regimes::from_csv(
                bad.as_bytes(),
                DEFAULT_ORIGIN_FREQUENCIES.as_bytes(),
                DEFAULT_INCREASED_CONTROLS.as_bytes()
            )
            .is_err()
        );
    }
}
