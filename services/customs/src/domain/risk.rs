//! Selectivity (as ASYCUDA's risk management module does it): risk profiles are rules over
//! commodity code prefix, origin, trader, declared value, mass, crossing point, transport and
//! procedure, each assigning a lane; random selection at configured rates comes on top, lower
//! for Authorised Economic Operators. The same facts, rule set version and seed always give the
//! same lane, so a decision can be replayed on appeal.

use rust_decimal::{Decimal, prelude::ToPrimitive};
use serde::Deserialize;

use super::{Procedure, Transport, trader::Trader};

/// The risk profiles `bordermesh up` uses when none are configured.
pub const DEFAULT_RISK_PROFILES: &str = include_str!("../../data/risk-profiles.toml");

/// Lanes of control, least strict first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Lane {
    Green,
    Blue,
    Yellow,
    Red,
}

impl Lane {
    pub fn name(self) -> &'static str {
        match self {
            Lane::Green => "GREEN",
            Lane::Blue => "BLUE",
            Lane::Yellow => "YELLOW",
            Lane::Red => "RED",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    version: String,
    random: RatesFile,
    random_authorised_economic_operator: RatesFile,
    #[serde(default)]
    rules: Vec<RiskRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RatesFile {
    red_percent: Decimal,
    yellow_percent: Decimal,
    blue_percent: Decimal,
}

/// One risk profile. Every criterion given must hold; item criteria hold for one item.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskRule {
    pub id: String,
    pub lane: Lane,
    pub description: String,
    #[serde(default)]
    commodity_prefixes: Vec<String>,
    #[serde(default)]
    origins: Vec<String>,
    /// EORI numbers of traders under a profile.
    #[serde(default)]
    traders: Vec<String>,
    #[serde(default)]
    procedures: Vec<String>,
    #[serde(default)]
    crossing_points: Vec<String>,
    #[serde(default)]
    transport_modes: Vec<String>,
    authorised_economic_operator: Option<bool>,
    min_value: Option<Decimal>,
    max_value: Option<Decimal>,
    min_net_mass_kg: Option<Decimal>,
    max_net_mass_kg: Option<Decimal>,
}

/// Random selection rates in parts per million of declarations.
#[derive(Debug, Clone, Copy)]
struct RandomRates {
    red: u64,
    yellow: u64,
    blue: u64,
}

const PARTS: u64 = 1_000_000;

impl RandomRates {
    fn read(file: &RatesFile, which: &str) -> anyhow::Result<Self> {
        let ppm = |percent: Decimal| {
            (percent >= Decimal::ZERO)
                .then(|| (percent * Decimal::from(PARTS / 100)).round().to_u64())
                .flatten()
                .ok_or_else(|| anyhow::anyhow!("{which}: rates must be percentages"))
        };
        let rates = Self {
            red: ppm(file.red_percent)?,
            yellow: ppm(file.yellow_percent)?,
            blue: ppm(file.blue_percent)?,
        };
        anyhow::ensure!(
            rates.red + rates.yellow + rates.blue <= PARTS,
            "{which}: the rates add up to more than 100 %"
        );
        Ok(rates)
    }

    /// The lane a draw in `0..PARTS` falls on: red first, then yellow, then blue.
    fn lane_for(&self, draw: u64) -> Option<Lane> {
        if draw < self.red {
            Some(Lane::Red)
        } else if draw < self.red + self.yellow {
            Some(Lane::Yellow)
        } else if draw < self.red + self.yellow + self.blue {
            Some(Lane::Blue)
        } else {
            None
        }
    }
}

/// A versioned set of risk profiles with its random selection rates.
#[derive(Debug, Clone)]
pub struct RiskProfiles {
    pub version: String,
    rules: Vec<RiskRule>,
    random: RandomRates,
    random_aeo: RandomRates,
}

/// What the rules look at in one goods item; the value is in the tariff currency.
#[derive(Debug, Clone)]
pub struct ItemFacts<'a> {
    pub commodity_code: &'a str,
    pub origin_country: &'a str,
    pub value: Decimal,
    pub net_mass_kg: Option<Decimal>,
}

/// What the rules look at in a declaration.
#[derive(Debug, Clone)]
pub struct DeclarationFacts<'a> {
    pub trader: Option<&'a Trader>,
    pub procedure: Procedure,
    pub crossing_point: &'a str,
    pub transport: Transport,
    pub items: Vec<ItemFacts<'a>>,
}

/// A rule that fired, with the lane it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredRule {
    pub id: String,
    pub lane: Lane,
    pub description: String,
}

/// The lane and why: the rules that fired (strictest first), then random selection if it drew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub lane: Lane,
    pub fired: Vec<FiredRule>,
    pub random: Option<Lane>,
    pub version: String,
    pub seed: u64,
}

impl Selection {
    /// Ids of the rules behind the lane; random selection as `RANDOM-<LANE>`.
    pub fn rule_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.fired.iter().map(|rule| rule.id.clone()).collect();
        if let Some(lane) = self.random {
            ids.push(format!("RANDOM-{}", lane.name()));
        }
        ids
    }
}

fn listed(list: &[String], value: &str) -> bool {
    list.is_empty() || list.iter().any(|entry| entry == value)
}

impl RiskRule {
    fn matches_declaration(&self, facts: &DeclarationFacts) -> bool {
        let eori = facts.trader.map_or("", |t| t.eori.as_str());
        let aeo = facts.trader.is_some_and(|t| t.authorised_economic_operator);
        listed(&self.traders, eori)
            && listed(&self.procedures, facts.procedure.name())
            && listed(&self.crossing_points, facts.crossing_point)
            && listed(&self.transport_modes, facts.transport.name())
            && self
                .authorised_economic_operator
                .is_none_or(|wanted| wanted == aeo)
    }

    fn has_item_criteria(&self) -> bool {
        !self.commodity_prefixes.is_empty()
            || !self.origins.is_empty()
            || self.min_value.is_some()
            || self.max_value.is_some()
            || self.min_net_mass_kg.is_some()
            || self.max_net_mass_kg.is_some()
    }

    fn matches_item(&self, item: &ItemFacts) -> bool {
        let mass = |bound: Option<Decimal>, holds: fn(Decimal, Decimal) -> bool| {
            bound.is_none_or(|bound| item.net_mass_kg.is_some_and(|mass| holds(mass, bound)))
        };
        (self.commodity_prefixes.is_empty()
            || self
                .commodity_prefixes
                .iter()
                .any(|prefix| item.commodity_code.starts_with(prefix.as_str())))
            && listed(&self.origins, item.origin_country)
            && self.min_value.is_none_or(|min| item.value >= min)
            && self.max_value.is_none_or(|max| item.value <= max)
            && mass(self.min_net_mass_kg, |mass, min| mass >= min)
            && mass(self.max_net_mass_kg, |mass, max| mass <= max)
    }

    fn fires(&self, facts: &DeclarationFacts) -> bool {
        self.matches_declaration(facts)
            && (!self.has_item_criteria() || facts.items.iter().any(|item| self.matches_item(item)))
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014): a fixed, portable mixing function, so a seed gives
/// the same draw on every machine and every version of every crate.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// FNV-1a of the version, so that a new rule set draws afresh.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl RiskProfiles {
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let file: ProfileFile = toml::from_str(text)?;
        anyhow::ensure!(
            !file.version.trim().is_empty(),
            "risk profiles need a version"
        );
        let mut ids = std::collections::HashSet::new();
        for rule in &file.rules {
            anyhow::ensure!(
                ids.insert(rule.id.as_str()),
                "risk rule {} is listed twice",
                rule.id
            );
            for name in &rule.procedures {
                anyhow::ensure!(
                    Procedure::from_name(name).is_some(),
                    "risk rule {}: unknown procedure {name}",
                    rule.id
                );
            }
            for name in &rule.transport_modes {
                anyhow::ensure!(
                    Transport::from_name(name).is_some(),
                    "risk rule {}: unknown transport mode {name}",
                    rule.id
                );
            }
            anyhow::ensure!(
                rule.commodity_prefixes
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
                "risk rule {}: commodity prefixes are digits",
                rule.id
            );
        }
        Ok(Self {
            random: RandomRates::read(&file.random, "random")?,
            random_aeo: RandomRates::read(
                &file.random_authorised_economic_operator,
                "random_authorised_economic_operator",
            )?,
            version: file.version,
            rules: file.rules,
        })
    }

    /// The lane of a declaration: the strictest of the rules that fired and of the random draw
    /// made from `seed`.
    pub fn select(&self, facts: &DeclarationFacts, seed: u64) -> Selection {
        let mut fired: Vec<FiredRule> = self
            .rules
            .iter()
            .filter(|rule| rule.fires(facts))
            .map(|rule| FiredRule {
                id: rule.id.clone(),
                lane: rule.lane,
                description: rule.description.clone(),
            })
            .collect();
        fired.sort_by_key(|rule| std::cmp::Reverse(rule.lane));
        let rates = if facts.trader.is_some_and(|t| t.authorised_economic_operator) {
            &self.random_aeo
        } else {
            &self.random
        };
        let draw = splitmix64(seed ^ fnv1a(&self.version)) % PARTS;
        let random = rates.lane_for(draw);
        let lane = fired
            .iter()
            .map(|rule| rule.lane)
            .chain(random)
            .max()
            .unwrap_or(Lane::Green);
        Selection {
            lane,
            fired,
            random,
            version: self.version.clone(),
            seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::trader::Eori;

    fn profiles(text: &str) -> RiskProfiles {
        RiskProfiles::from_toml(text).unwrap()
    }

    const NO_RANDOM: &str = "version = \"t1\"\n\
        [random]\nred_percent = \"0\"\nyellow_percent = \"0\"\nblue_percent = \"0\"\n\
        [random_authorised_economic_operator]\nred_percent = \"0\"\nyellow_percent = \"0\"\nblue_percent = \"0\"\n";

    fn trader(aeo: bool) -> Trader {
        Trader {
            eori: Eori::parse("RS100200300").unwrap(),
            authorised_economic_operator: aeo,
        }
    }

    fn facts<'a>(
        trader: Option<&'a Trader>,
        code: &'a str,
        origin: &'a str,
        value: i64,
        mass: i64,
    ) -> DeclarationFacts<'a> {
        DeclarationFacts {
            trader,
            procedure: Procedure::Import,
            crossing_point: "HR-BAJAKOVO",
            transport: Transport::Road,
            items: vec![ItemFacts {
                commodity_code: code,
                origin_country: origin,
                value: Decimal::from(value),
                net_mass_kg: Some(Decimal::from(mass)),
            }],
        }
    }

    #[test]
    fn asycuda_selectivity_the_strictest_rule_sets_the_lane_and_every_fired_rule_is_named() {
        assert_eq!(profiles(DEFAULT_RISK_PROFILES).version, "2026.07-1");
        let text = format!(
            "{NO_RANDOM}{}",
            DEFAULT_RISK_PROFILES
                .split_once("[[rules]]")
                .map(|(_, rules)| format!("[[rules]]{rules}"))
                .unwrap()
        );
        let profiles = profiles(&text);
        let importer = trader(false);
        let cigarettes = facts(Some(&importer), "240220", "ARE", 200_000, 3000);
        let selection = profiles.select(&cigarettes, 7);
        assert_eq!(selection.lane, Lane::Red);
        assert_eq!(selection.rule_ids(), ["RP-TOBACCO-01", "RP-HIGH-VALUE-01"]);
        let beef = facts(Some(&importer), "020230", "ARG", 41_500, 18_000);
        let selection = profiles.select(&beef, 7);
        assert_eq!(selection.lane, Lane::Green);
        assert!(selection.rule_ids().is_empty());
    }

    #[test]
    fn item_criteria_must_hold_for_one_and_the_same_item() {
        let text = format!(
            "{NO_RANDOM}[[rules]]\nid = \"R\"\nlane = \"YELLOW\"\ndescription = \"d\"\n\
             commodity_prefixes = [\"61\"]\norigins = [\"CHN\"]\n"
        );
        let profiles = profiles(&text);
        let mut mixed = facts(None, "610910", "TUR", 100, 100);
        mixed.items.push(ItemFacts {
            commodity_code: "847130",
            origin_country: "CHN",
            value: Decimal::ONE,
            net_mass_kg: None,
        });
        assert_eq!(profiles.select(&mixed, 1).lane, Lane::Green);
        mixed.items[1].commodity_code = "610990";
        assert_eq!(profiles.select(&mixed, 1).lane, Lane::Yellow);
    }

    #[test]
    fn the_same_facts_version_and_seed_replay_the_same_lane() {
        let profiles = profiles(DEFAULT_RISK_PROFILES);
        let beef = facts(None, "020230", "ARG", 41_500, 18_000);
        for seed in [0, 1, 42, u64::MAX] {
            assert_eq!(profiles.select(&beef, seed), profiles.select(&beef, seed));
        }
    }

    #[test]
    fn random_selection_follows_the_configured_rates_and_is_lower_for_aeos() {
        let profiles = profiles(DEFAULT_RISK_PROFILES);
        let count = |aeo: bool, lane: Lane| {
            let holder = trader(aeo);
            let beef = facts(Some(&holder), "020230", "ARG", 41_500, 18_000);
            (0..100_000u64)
                .filter(|seed| profiles.select(&beef, *seed).lane == lane)
                .count()
        };
        // 1 % red and 3 % yellow of 100 000 draws; 0.2 % and 0.5 % for AEOs.
        let (red, yellow) = (count(false, Lane::Red), count(false, Lane::Yellow));
        assert!((800..1200).contains(&red), "{red}");
        assert!((2600..3400).contains(&yellow), "{yellow}");
        let (aeo_red, aeo_yellow) = (count(true, Lane::Red), count(true, Lane::Yellow));
        assert!((100..300).contains(&aeo_red), "{aeo_red}");
        assert!((350..650).contains(&aeo_yellow), "{aeo_yellow}");
    }

    #[test]
    fn a_random_draw_is_named_and_never_lowers_a_rule_s_lane() {
        let all_yellow =
            NO_RANDOM.replacen("yellow_percent = \"0\"", "yellow_percent = \"100\"", 1);
        let text = format!(
            "{all_yellow}[[rules]]\nid = \"R\"\nlane = \"RED\"\ndescription = \"d\"\norigins = [\"ARG\"]\n"
        );
        let profiles = profiles(&text);
        let beef = facts(None, "020230", "ARG", 1, 1);
        let selection = profiles.select(&beef, 3);
        assert_eq!(selection.lane, Lane::Red);
        assert_eq!(selection.rule_ids(), ["R", "RANDOM-YELLOW"]);
    }

    #[test]
    fn bad_rule_sets_are_refused_at_load() {
        let over = NO_RANDOM.replacen("red_percent = \"0\"", "red_percent = \"101\"", 1);
        assert!(RiskProfiles::from_toml(&over).is_err());
        let unknown = format!(
            "{NO_RANDOM}[[rules]]\nid = \"R\"\nlane = \"RED\"\ndescription = \"d\"\nprocedures = [\"SMUGGLE\"]\n"
        );
        assert!(RiskProfiles::from_toml(&unknown).is_err());
    }
}
