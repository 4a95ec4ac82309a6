//! Customs rules, free of transport and storage: commodity codes and the nomenclature, traders,
//! the tariff and the duty arithmetic, traveller allowances, cash controls, referrals, risk
//! lanes, transit movements, Movement Reference Numbers.

pub mod assessment;
pub mod cash;
pub mod commodity;
pub mod examination;
pub mod mrn;
pub mod referral;
pub mod risk;
pub mod tariff;
pub mod trader;
pub mod transit;

/// The customs procedure goods are declared for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Procedure {
    /// Cash or a vehicle only, with no goods to place under a procedure.
    Unspecified,
    Import,
    Export,
    Transit,
    PersonalLuggage,
}

impl Procedure {
    const NAMED: [(Procedure, &'static str); 4] = [
        (Procedure::Import, "IMPORT"),
        (Procedure::Export, "EXPORT"),
        (Procedure::Transit, "TRANSIT"),
        (Procedure::PersonalLuggage, "PERSONAL_LUGGAGE"),
    ];

    /// The name rule files use: `IMPORT`, `EXPORT`, `TRANSIT`, `PERSONAL_LUGGAGE`.
    pub fn name(self) -> &'static str {
        Self::NAMED
            .iter()
            .find(|(procedure, _)| *procedure == self)
            .map_or("UNSPECIFIED", |(_, name)| name)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMED
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(procedure, _)| *procedure)
    }
}

/// How the goods cross, as far as allowances and risk rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Unspecified,
    Road,
    Rail,
    Air,
    Sea,
    InlandWaterway,
    Pedestrian,
}

impl Transport {
    const NAMED: [(Transport, &'static str); 6] = [
        (Transport::Road, "ROAD"),
        (Transport::Rail, "RAIL"),
        (Transport::Air, "AIR"),
        (Transport::Sea, "SEA"),
        (Transport::InlandWaterway, "INLAND_WATERWAY"),
        (Transport::Pedestrian, "PEDESTRIAN"),
    ];

    /// The name rule files use: `ROAD`, `AIR`, …; `UNSPECIFIED` matches no listed mode.
    pub fn name(self) -> &'static str {
        Self::NAMED
            .iter()
            .find(|(transport, _)| *transport == self)
            .map_or("UNSPECIFIED", |(_, name)| name)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMED
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(transport, _)| *transport)
    }

    /// Council Directive 2007/74/EC Art. 7(1): air and sea travellers have the higher allowance.
    pub fn is_air_or_sea(self) -> bool {
        matches!(self, Transport::Air | Transport::Sea)
    }
}

/// Customs' verdict on a declaration, strictest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Clear,
    ClearWithConditions,
    Refer,
    /// Only after an examination found the goods not as declared (UCC Art. 191, 198).
    Refuse,
}

/// One reason behind a verdict: a stable code, the rule that fired, readable text and the
/// path of its subject in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub verdict: Verdict,
    pub code: &'static str,
    pub rule_id: String,
    pub message: String,
    pub subject: String,
}

/// A problem with one field of the request that only the rules reveal (a rate the tariff does
/// not have, a quantity a specific duty needs): reported as a field violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}
