//! Veterinary and phytosanitary rules, free of transport and storage: which health entry
//! document a consignment needs, which official checks it is subject to, the document's
//! lifecycle, disease restrictions, phytosanitary certificates and travellers' luggage.

pub mod assessment;
pub mod ched;
pub mod ephyto;
pub mod luggage;
pub mod policy;
pub mod regime;
pub mod restrictions;
pub mod species;

use std::path::Path;

/// Every rule table and setting the service decides with, loaded once at start.
#[derive(Debug, Clone)]
pub struct Rulebook {
    pub regimes: regime::Regimes,
    pub species: species::SpeciesList,
    pub restrictions: restrictions::Restrictions,
    pub pests: ephyto::PestRules,
    pub luggage: luggage::LuggageRules,
    pub policy: policy::Policy,
}

impl Rulebook {
    /// The built-in data files with `policy`.
    pub fn with_policy(policy: policy::Policy) -> anyhow::Result<Self> {
        Ok(Self {
            regimes: regime::Regimes::default_regimes()?,
            species: species::SpeciesList::default_species()?,
            restrictions: restrictions::Restrictions::default_restrictions()?,
            pests: ephyto::PestRules::default_rules()?,
            luggage: luggage::LuggageRules::default_rules()?,
            policy,
        })
    }

    pub fn default_rules() -> anyhow::Result<Self> {
        Self::with_policy(policy::Policy::default_policy()?)
    }

    /// The built-in data with the policy overridden by `data_dir`'s `sanitary-policy.toml`.
    pub fn load(data_dir: &Path) -> anyhow::Result<Self> {
        Self::with_policy(policy::Policy::load(Some(
            &data_dir.join(policy::POLICY_FILE),
        ))?)
    }
}
