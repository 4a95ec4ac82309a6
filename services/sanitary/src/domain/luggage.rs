//! Products of animal origin in travellers' personal luggage (Delegated Regulation (EU)
//! 2019/2122 Art. 6; Regulation (EU) 2017/625 Art. 48(d)): meat and dairy products from outside
//! the Union may not enter, except in the quantities and from the origins the exemptions list
//! (`data/luggage-categories.csv`, `data/luggage-exemptions.csv`).

use std::{collections::HashMap, io::Read};

use rust_decimal::Decimal;
use serde::Deserialize;

use super::assessment::{Finding, Verdict};

pub const DEFAULT_CATEGORIES: &str = include_str!("../../data/luggage-categories.csv");
pub const DEFAULT_EXEMPTIONS: &str = include_str!("../../data/luggage-exemptions.csv");
pub const DEFAULT_EU_MEMBER_STATES: &str = include_str!("../../data/eu-member-states.csv");

#[derive(Debug, Clone, Deserialize)]
struct Category {
    category: String,
    description: String,
}

#[derive(Debug, Clone, Deserialize)]
struct ExemptionRow {
    category: String,
    origin_countries: String,
    limit_kg: Decimal,
    legal_basis: String,
}

#[derive(Debug, Clone, Deserialize)]
struct MemberState {
    country: String,
}

#[derive(Debug, Clone)]
struct Exemption {
    category: String,
    /// `None` for every origin.
    origins: Option<Vec<String>>,
    limit_kg: Decimal,
    legal_basis: String,
}

#[derive(Debug, Clone)]
pub struct LuggageRules {
    categories: Vec<Category>,
    exemptions: Vec<Exemption>,
    member_states: Vec<String>,
}

/// One product found in the luggage.
#[derive(Debug, Clone)]
pub struct Item {
    pub category: String,
    pub quantity_kg: Decimal,
    pub origin_country: String,
}

/// What happens to one product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// From a member state: not a product from outside the Union.
    FromTheUnion,
    /// Within an exemption.
    Exempt(Finding),
    /// Not allowed: seized.
    Seized(Finding),
}

impl LuggageRules {
    pub fn from_csv(
        categories: impl Read,
        exemptions: impl Read,
        member_states: impl Read,
    ) -> anyhow::Result<Self> {
        let categories: Vec<Category> = csv::Reader::from_reader(categories)
            .deserialize()
            .collect::<Result<_, _>>()?;
        let rows: Vec<ExemptionRow> = csv::Reader::from_reader(exemptions)
            .deserialize()
            .collect::<Result<_, _>>()?;
        let mut exemptions = Vec::new();
        for row in rows {
            anyhow::ensure!(
                categories.iter().any(|c| c.category == row.category),
                "exemption for unknown luggage category {}",
                row.category
            );
            anyhow::ensure!(
                row.limit_kg >= Decimal::ZERO,
                "negative limit for {}",
                row.category
            );
            let origins = (row.origin_countries.trim() != "*").then(|| {
                row.origin_countries
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect()
            });
            exemptions.push(Exemption {
                category: row.category,
                origins,
                limit_kg: row.limit_kg,
                legal_basis: row.legal_basis,
            });
        }
        let member_states: Vec<MemberState> = csv::Reader::from_reader(member_states)
            .deserialize()
            .collect::<Result<_, _>>()?;
        Ok(Self {
            categories,
            exemptions,
            member_states: member_states.into_iter().map(|m| m.country).collect(),
        })
    }

    pub fn default_rules() -> anyhow::Result<Self> {
        Self::from_csv(
            DEFAULT_CATEGORIES.as_bytes(),
            DEFAULT_EXEMPTIONS.as_bytes(),
            DEFAULT_EU_MEMBER_STATES.as_bytes(),
        )
    }

    pub fn is_category(&self, category: &str) -> bool {
        self.categories.iter().any(|c| c.category == category)
    }

    fn description<'a>(&'a self, category: &'a str) -> &'a str {
        self.categories
            .iter()
            .find(|c| c.category == category)
            .map_or(category, |c| c.description.as_str())
    }

    fn exemption(&self, category: &str, origin: &str) -> Option<&Exemption> {
        self.exemptions.iter().find(|e| {
            e.category == category
                && e.origins
                    .as_ref()
                    .is_none_or(|origins| origins.iter().any(|o| o == origin))
        })
    }

    /// The outcome of each item, in order. Exempt quantities count per traveller and category
    /// (Art. 6: "per person"): the item that takes the total over the limit is seized.
    pub fn check(&self, items: &[Item]) -> Vec<Outcome> {
        let mut carried: HashMap<&str, Decimal> = HashMap::new();
        items
            .iter()
            .map(|item| {
                if self.member_states.contains(&item.origin_country) {
                    return Outcome::FromTheUnion;
                }
                let description = self.description(&item.category);
                let Some(exemption) = self.exemption(&item.category, &item.origin_country) else {
                    return Outcome::Seized(Finding {
                        code: "LUGGAGE_PRODUCT_PROHIBITED".into(),
                        rule_id: "REG-2019-2122-ART-6".into(),
                        message: format!(
                            "{description} from {} may not enter in personal luggage: Delegated Regulation (EU) 2019/2122 Art. 6 exempts none",
                            item.origin_country
                        ),
                        verdict: Verdict::ClearWithConditions,
                    });
                };
                let total = carried.entry(item.category.as_str()).or_default();
                *total += item.quantity_kg;
                if *total > exemption.limit_kg {
                    Outcome::Seized(Finding {
                        code: "LUGGAGE_LIMIT_EXCEEDED".into(),
                        rule_id: "REG-2019-2122-ART-6".into(),
                        message: format!(
                            "{description} from {}: {} kg carried, {} kg allowed per person ({})",
                            item.origin_country, total, exemption.limit_kg, exemption.legal_basis
                        ),
                        verdict: Verdict::ClearWithConditions,
                    })
                } else {
                    Outcome::Exempt(Finding {
                        code: "LUGGAGE_EXEMPTION".into(),
                        rule_id: "REG-2019-2122-ART-6".into(),
                        message: format!(
                            "{description} from {} within {} kg per person ({})",
                            item.origin_country, exemption.limit_kg, exemption.legal_basis
                        ),
                        verdict: Verdict::Clear,
                    })
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(category: &str, kg: i64, origin: &str) -> Item {
        Item {
            category: category.into(),
            quantity_kg: Decimal::from(kg),
            origin_country: origin.into(),
        }
    }

    fn codes(outcomes: &[Outcome]) -> Vec<&str> {
        outcomes
            .iter()
            .map(|o| match o {
                Outcome::FromTheUnion => "EU",
                Outcome::Exempt(f) | Outcome::Seized(f) => f.code.as_str(),
            })
            .collect()
    }

    #[test]
    fn regulation_2019_2122_meat_and_dairy_from_outside_the_union_are_seized() {
        let rules = LuggageRules::default_rules().unwrap();
        let outcomes = rules.check(&[
            item("MEAT", 1, "SRB"),
            item("DAIRY", 1, "TUR"),
            item("MEAT", 1, "HRV"),
        ]);
        assert_eq!(
            codes(&outcomes),
            [
                "LUGGAGE_PRODUCT_PROHIBITED",
                "LUGGAGE_PRODUCT_PROHIBITED",
                "EU"
            ]
        );
    }

    #[test]
    fn regulation_2019_2122_art_6_exemptions_allow_infant_milk_and_fish_within_limits() {
        let rules = LuggageRules::default_rules().unwrap();
        let outcomes = rules.check(&[
            item("INFANT_MILK_POWDER", 2, "SRB"),
            item("FISHERY", 15, "NOR"),
            item("FISHERY", 6, "NOR"),
            item("MEAT", 3, "CHE"),
        ]);
        assert_eq!(
            codes(&outcomes),
            [
                "LUGGAGE_EXEMPTION",
                "LUGGAGE_EXEMPTION",
                "LUGGAGE_LIMIT_EXCEEDED",
                "LUGGAGE_EXEMPTION"
            ]
        );
        assert!(!rules.is_category("FRUIT"));
    }
}
