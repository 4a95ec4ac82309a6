//! Disease restrictions by origin country or region, commodity and validity dates
//! (`data/restrictions.csv`): animal health bans such as African swine fever and avian influenza
//! zones (Regulation (EU) 2016/429 Art. 230; Delegated Regulation (EU) 2020/692).

use std::io::Read;

use chrono::NaiveDate;
use serde::Deserialize;

pub const DEFAULT_RESTRICTIONS: &str = include_str!("../../data/restrictions.csv");

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Restriction {
    pub rule_id: String,
    pub origin_country: String,
    /// ISO 3166-2 region; empty when the whole country is restricted.
    pub origin_region: String,
    pub prefix: String,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub disease: String,
    pub legal_basis: String,
}

impl Restriction {
    fn in_force_on(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_until.is_none_or(|until| day <= until)
    }
}

/// Whether a consignment falls under a restriction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestrictionMatch<'a> {
    /// The consignment's origin is restricted: it is refused.
    Restricted(&'a Restriction),
    /// A region of the origin country is restricted and the consignment names no region, so
    /// the border control post cannot tell whether it comes from there.
    RegionUnknown(&'a Restriction),
}

#[derive(Debug, Clone)]
pub struct Restrictions {
    rules: Vec<Restriction>,
}

impl Restrictions {
    pub fn from_csv(reader: impl Read) -> anyhow::Result<Self> {
        let rules: Vec<Restriction> = csv::Reader::from_reader(reader)
            .deserialize()
            .collect::<Result<_, _>>()?;
        for rule in &rules {
            anyhow::ensure!(
                rule.valid_until
                    .is_none_or(|until| rule.valid_from <= until),
                "restriction {} ends before it starts",
                rule.rule_id
            );
        }
        Ok(Self { rules })
    }

    pub fn default_restrictions() -> anyhow::Result<Self> {
        Self::from_csv(DEFAULT_RESTRICTIONS.as_bytes())
    }

    /// The first restriction in force on `day` for goods of `code` from `origin` (and `region`,
    /// when known): a whole-country restriction before a regional one.
    pub fn applicable(
        &self,
        origin: &str,
        region: Option<&str>,
        code: &str,
        day: NaiveDate,
    ) -> Option<RestrictionMatch<'_>> {
        let mut in_force = self.rules.iter().filter(|rule| {
            rule.origin_country == origin && code.starts_with(&rule.prefix) && rule.in_force_on(day)
        });
        let mut region_unknown = None;
        for rule in in_force.by_ref() {
            if rule.origin_region.is_empty() {
                return Some(RestrictionMatch::Restricted(rule));
            }
            match region {
                Some(region) if region.eq_ignore_ascii_case(&rule.origin_region) => {
                    return Some(RestrictionMatch::Restricted(rule));
                }
                Some(_) => {}
                None => region_unknown = region_unknown.or(Some(rule)),
            }
        }
        region_unknown.map(RestrictionMatch::RegionUnknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn rule_id(found: Option<RestrictionMatch<'_>>) -> Option<(bool, String)> {
        found.map(|m| match m {
            RestrictionMatch::Restricted(rule) => (true, rule.rule_id.clone()),
            RestrictionMatch::RegionUnknown(rule) => (false, rule.rule_id.clone()),
        })
    }

    #[test]
    fn regulation_2023_594_pig_meat_from_an_african_swine_fever_country_is_restricted() {
        let rules = Restrictions::default_restrictions().unwrap();
        assert_eq!(
            rule_id(rules.applicable("SRB", None, "020322", day(2026, 7, 1))),
            Some((true, "ASF-SRB-2023".into()))
        );
        // Beef from the same country is not under the swine fever rule.
        assert_eq!(
            rules.applicable("SRB", None, "020230", day(2026, 7, 1)),
            None
        );
    }

    #[test]
    fn regulation_2021_404_an_avian_influenza_zone_restricts_only_its_region_and_only_while_in_force()
     {
        let rules = Restrictions::default_restrictions().unwrap();
        let in_zone = rules.applicable("UKR", Some("UA-71"), "020714", day(2026, 3, 1));
        assert_eq!(rule_id(in_zone), Some((true, "HPAI-UKR-CHERKASY".into())));
        assert_eq!(
            rules.applicable("UKR", Some("UA-32"), "020714", day(2026, 3, 1)),
            None
        );
        assert_eq!(
            rules.applicable("UKR", Some("UA-71"), "020714", day(2027, 1, 1)),
            None
        );
        assert_eq!(
            rules.applicable("BRA", Some("BR-RS"), "020714", day(2026, 3, 1)),
            None
        );
        let unknown = rules.applicable("UKR", None, "020714", day(2026, 3, 1));
        assert_eq!(rule_id(unknown), Some((false, "HPAI-UKR-CHERKASY".into())));
    }
}
