//! Commodity codes of the Harmonized System and the nomenclature they are checked against.

use std::{collections::HashSet, io::Read};

/// A commodity code: the 6-digit HS subheading, optionally extended by national subdivisions
/// to 8 (CN) or 10 (TARIC) digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommodityCode(String);

impl CommodityCode {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err("must contain digits only");
        }
        match text.len() {
            6 | 8 | 10 => Ok(Self(text.to_owned())),
            _ => Err("must have 6, 8 or 10 digits (HS subheading, CN or TARIC code)"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 6-digit HS subheading every national code extends.
    pub fn subheading(&self) -> &str {
        &self.0[..6]
    }
}

/// The HS subheadings a deployment recognises, read from a CSV with the columns
/// `section,hscode,description,parent,level` (level 6 rows are subheadings). Rows of the
/// pseudo-section `TOTAL` (UN Comtrade's 999999 "not specified") are statistics, not goods.
#[derive(Debug, Default)]
pub struct Nomenclature {
    subheadings: HashSet<String>,
}

impl Nomenclature {
    pub fn from_csv(reader: impl Read) -> anyhow::Result<Self> {
        let mut csv = csv::Reader::from_reader(reader);
        let headers = csv.headers()?.clone();
        let column = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim_start_matches('\u{feff}') == name)
                .ok_or_else(|| anyhow::anyhow!("nomenclature has no {name} column"))
        };
        let (section_column, code_column, level_column) =
            (column("section")?, column("hscode")?, column("level")?);
        let mut subheadings = HashSet::new();
        for record in csv.records() {
            let record = record?;
            if record.get(level_column) == Some("6")
                && record.get(section_column) != Some("TOTAL")
                && let Some(code) = record.get(code_column)
            {
                subheadings.insert(code.to_owned());
            }
        }
        anyhow::ensure!(!subheadings.is_empty(), "nomenclature lists no subheadings");
        Ok(Self { subheadings })
    }

    pub fn len(&self) -> usize {
        self.subheadings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.subheadings.is_empty()
    }

    pub fn contains(&self, code: &CommodityCode) -> bool {
        self.subheadings.contains(code.subheading())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs_codes_have_6_8_or_10_digits() {
        assert!(CommodityCode::parse("020230").is_ok());
        assert!(CommodityCode::parse("02023090").is_ok());
        assert!(CommodityCode::parse("0202309000").is_ok());
        assert!(CommodityCode::parse("0202").is_err());
        assert!(CommodityCode::parse("02023A").is_err());
        assert!(CommodityCode::parse("0202309").is_err());
    }

    #[test]
    fn the_hs_2022_nomenclature_has_5612_subheadings_of_goods() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/hs2022/harmonized-system.csv"
        );
        let nomenclature = Nomenclature::from_csv(std::fs::File::open(path).unwrap()).unwrap();
        // 5,613 level-6 rows less Comtrade's 999999.
        assert_eq!(nomenclature.len(), 5612);
        assert!(nomenclature.contains(&CommodityCode::parse("0202309000").unwrap()));
        assert!(!nomenclature.contains(&CommodityCode::parse("999999").unwrap()));
        assert!(!nomenclature.contains(&CommodityCode::parse("020240").unwrap()));
    }
}
