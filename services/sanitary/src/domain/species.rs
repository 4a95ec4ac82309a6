//! Known species (`data/species.csv`): the scientific name a consignment or certificate declares,
//! its group (which can change the control regime) and the commodities it may be declared under.

use std::io::Read;

use serde::Deserialize;

pub const DEFAULT_SPECIES: &str = include_str!("../../data/species.csv");

#[derive(Debug, Clone, Deserialize)]
struct Row {
    scientific_name: String,
    common_name: String,
    species_group: String,
    commodity_prefixes: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Species {
    pub scientific_name: String,
    pub common_name: String,
    pub group: String,
    pub commodity_prefixes: Vec<String>,
}

impl Species {
    /// Whether goods of `code` can be of this species (Implementing Regulation (EU) 2019/1715
    /// Annex II: Part I names the species of the commodity declared).
    pub fn fits(&self, code: &str) -> bool {
        self.commodity_prefixes
            .iter()
            .any(|prefix| code.starts_with(prefix.as_str()))
    }
}

#[derive(Debug, Clone)]
pub struct SpeciesList {
    species: Vec<Species>,
}

/// Why a declared species cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeciesError {
    Unknown,
    NotOfCommodity { common_name: String },
}

impl std::fmt::Display for SpeciesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown => {
                f.write_str("is not a known species (scientific name, for example Bos taurus)")
            }
            Self::NotOfCommodity { common_name } => {
                write!(
                    f,
                    "is {common_name}, which the commodity code does not cover"
                )
            }
        }
    }
}

impl SpeciesList {
    pub fn from_csv(reader: impl Read) -> anyhow::Result<Self> {
        let rows: Vec<Row> = csv::Reader::from_reader(reader)
            .deserialize()
            .collect::<Result<_, _>>()?;
        let species = rows
            .into_iter()
            .map(|row| Species {
                scientific_name: row.scientific_name,
                common_name: row.common_name,
                group: row.species_group,
                commodity_prefixes: row
                    .commodity_prefixes
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
            })
            .collect();
        Ok(Self { species })
    }

    pub fn default_species() -> anyhow::Result<Self> {
        Self::from_csv(DEFAULT_SPECIES.as_bytes())
    }

    /// Looks a scientific name up; case and surrounding spaces do not matter.
    pub fn find(&self, name: &str) -> Option<&Species> {
        let name = name.trim();
        self.species
            .iter()
            .find(|s| s.scientific_name.eq_ignore_ascii_case(name))
    }

    /// The species named, if it is known and fits goods of `code`.
    pub fn for_commodity(&self, name: &str, code: &str) -> Result<&Species, SpeciesError> {
        let species = self.find(name).ok_or(SpeciesError::Unknown)?;
        if species.fits(code) {
            Ok(species)
        } else {
            Err(SpeciesError::NotOfCommodity {
                common_name: species.common_name.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implementing_regulation_2019_1715_part_i_species_must_fit_the_commodity() {
        let list = SpeciesList::default_species().unwrap();
        assert_eq!(
            list.for_commodity("bos taurus", "020230").unwrap().group,
            "bovine"
        );
        assert_eq!(
            list.for_commodity("Sus scrofa", "020230"),
            Err(SpeciesError::NotOfCommodity {
                common_name: "pig".into()
            })
        );
        assert_eq!(
            list.for_commodity("Bos unicornis", "020230"),
            Err(SpeciesError::Unknown)
        );
    }
}
