//! Country codes as ICAO 9303 Part 3 writes them, and who is a Union citizen for the checks.

/// Nationalities whose holders enjoy the Union right of free movement (Schengen Borders Code
/// Art. 2(5)): the EU member states, the EEA states and Switzerland. Germany is `D<<`.
const FREE_MOVEMENT: &[&str] = &[
    "AUT", "BEL", "BGR", "CHE", "CYP", "CZE", "D<<", "DNK", "ESP", "EST", "FIN", "FRA", "GRC",
    "HRV", "HUN", "IRL", "ISL", "ITA", "LIE", "LTU", "LUX", "LVA", "MLT", "NLD", "NOR", "POL",
    "PRT", "ROU", "SVK", "SVN", "SWE",
];

/// ISO 3166-1 alpha-3 codes of states and territories, as ICAO 9303 Part 3 adopts them. `DEU`
/// is absent: ICAO writes Germany as `D` (Part 3, 5, Appendix to the list of codes).
const ISO_3166_ALPHA_3: &[&str] = &[
    "ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ARE", "ARG", "ARM", "ASM", "ATA", "ATF",
    "ATG", "AUS", "AUT", "AZE", "BDI", "BEL", "BEN", "BES", "BFA", "BGD", "BGR", "BHR", "BHS",
    "BIH", "BLM", "BLR", "BLZ", "BMU", "BOL", "BRA", "BRB", "BRN", "BTN", "BVT", "BWA", "CAF",
    "CAN", "CCK", "CHE", "CHL", "CHN", "CIV", "CMR", "COD", "COG", "COK", "COL", "COM", "CPV",
    "CRI", "CUB", "CUW", "CXR", "CYM", "CYP", "CZE", "DJI", "DMA", "DNK", "DOM", "DZA", "ECU",
    "EGY", "ERI", "ESH", "ESP", "EST", "ETH", "FIN", "FJI", "FLK", "FRA", "FRO", "FSM", "GAB",
    "GBR", "GEO", "GGY", "GHA", "GIB", "GIN", "GLP", "GMB", "GNB", "GNQ", "GRC", "GRD", "GRL",
    "GTM", "GUF", "GUM", "GUY", "HKG", "HMD", "HND", "HRV", "HTI", "HUN", "IDN", "IMN", "IND",
    "IOT", "IRL", "IRN", "IRQ", "ISL", "ISR", "ITA", "JAM", "JEY", "JOR", "JPN", "KAZ", "KEN",
    "KGZ", "KHM", "KIR", "KNA", "KOR", "KWT", "LAO", "LBN", "LBR", "LBY", "LCA", "LIE", "LKA",
    "LSO", "LTU", "LUX", "LVA", "MAC", "MAF", "MAR", "MCO", "MDA", "MDG", "MDV", "MEX", "MHL",
    "MKD", "MLI", "MLT", "MMR", "MNE", "MNG", "MNP", "MOZ", "MRT", "MSR", "MTQ", "MUS", "MWI",
    "MYS", "MYT", "NAM", "NCL", "NER", "NFK", "NGA", "NIC", "NIU", "NLD", "NOR", "NPL", "NRU",
    "NZL", "OMN", "PAK", "PAN", "PCN", "PER", "PHL", "PLW", "PNG", "POL", "PRI", "PRK", "PRT",
    "PRY", "PSE", "PYF", "QAT", "REU", "ROU", "RUS", "RWA", "SAU", "SDN", "SEN", "SGP", "SGS",
    "SHN", "SJM", "SLB", "SLE", "SLV", "SMR", "SOM", "SPM", "SRB", "SSD", "STP", "SUR", "SVK",
    "SVN", "SWE", "SWZ", "SXM", "SYC", "SYR", "TCA", "TCD", "TGO", "THA", "TJK", "TKL", "TKM",
    "TLS", "TON", "TTO", "TUN", "TUR", "TUV", "TWN", "TZA", "UGA", "UKR", "UMI", "URY", "USA",
    "UZB", "VAT", "VCT", "VEN", "VGB", "VIR", "VNM", "VUT", "WLF", "WSM", "YEM", "ZAF", "ZMB",
    "ZWE",
];

/// What a three-letter code in a zone stands for, beyond the states of ISO 3166-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialCode {
    /// `D`: the Federal Republic of Germany.
    Germany,
    /// GBD, GBN, GBO, GBP, GBS: the classes of British nationality other than citizen.
    BritishNationalityClass,
    /// UNO, UNA, UNK: the United Nations, its specialised agencies, and its Kosovo mission.
    UnitedNations,
    /// XXA stateless, XXB refugee (1951 Convention), XXC refugee (other), XXX unspecified.
    StatelessOrRefugee,
    /// EUE: a document issued by the European Union.
    EuropeanUnion,
    /// Other international organisations that ICAO lists (XOM, XPO, XCE and others).
    InternationalOrganisation,
    /// UTO: Utopia, the fictitious state of the ICAO specimens.
    Specimen,
}

/// ICAO 9303 Part 3, 5: codes for documents of other issuers and nationalities, sorted.
const SPECIAL_CODES: &[(&str, SpecialCode)] = &[
    ("D<<", SpecialCode::Germany),
    ("EUE", SpecialCode::EuropeanUnion),
    ("GBD", SpecialCode::BritishNationalityClass),
    ("GBN", SpecialCode::BritishNationalityClass),
    ("GBO", SpecialCode::BritishNationalityClass),
    ("GBP", SpecialCode::BritishNationalityClass),
    ("GBS", SpecialCode::BritishNationalityClass),
    ("UNA", SpecialCode::UnitedNations),
    ("UNK", SpecialCode::UnitedNations),
    ("UNO", SpecialCode::UnitedNations),
    ("UTO", SpecialCode::Specimen),
    ("XBA", SpecialCode::InternationalOrganisation),
    ("XCC", SpecialCode::InternationalOrganisation),
    ("XCE", SpecialCode::InternationalOrganisation),
    ("XCO", SpecialCode::InternationalOrganisation),
    ("XDC", SpecialCode::InternationalOrganisation),
    ("XEC", SpecialCode::InternationalOrganisation),
    ("XES", SpecialCode::InternationalOrganisation),
    ("XIM", SpecialCode::InternationalOrganisation),
    ("XMP", SpecialCode::InternationalOrganisation),
    ("XOM", SpecialCode::InternationalOrganisation),
    ("XPO", SpecialCode::InternationalOrganisation),
    ("XXA", SpecialCode::StatelessOrRefugee),
    ("XXB", SpecialCode::StatelessOrRefugee),
    ("XXC", SpecialCode::StatelessOrRefugee),
    ("XXX", SpecialCode::StatelessOrRefugee),
];

/// What a code printed in a zone's issuing state or nationality field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountryCode {
    State,
    Special(SpecialCode),
    Unknown,
}

/// ICAO 9303 Part 3, 5: a three-character code as printed, with fillers (`D<<`).
pub fn classify(code: &str) -> CountryCode {
    if let Ok(index) = SPECIAL_CODES.binary_search_by(|(known, _)| known.cmp(&code)) {
        return CountryCode::Special(SPECIAL_CODES[index].1);
    }
    if ISO_3166_ALPHA_3.binary_search(&code).is_ok() {
        CountryCode::State
    } else {
        CountryCode::Unknown
    }
}

pub fn enjoys_free_movement(nationality: &str) -> bool {
    FREE_MOVEMENT.binary_search(&nationality).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_movement_list_is_sorted_and_uses_icao_code_for_germany() {
        assert!(FREE_MOVEMENT.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(enjoys_free_movement("D<<"));
        assert!(enjoys_free_movement("NOR"));
        assert!(!enjoys_free_movement("DEU"));
        assert!(!enjoys_free_movement("SRB"));
    }

    #[test]
    fn code_lists_are_sorted_for_binary_search() {
        assert!(ISO_3166_ALPHA_3.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(SPECIAL_CODES.windows(2).all(|pair| pair[0].0 < pair[1].0));
        assert_eq!(ISO_3166_ALPHA_3.len(), 248);
    }

    #[test]
    fn icao_9303_part_3_special_codes_are_known() {
        assert_eq!(classify("D<<"), CountryCode::Special(SpecialCode::Germany));
        for code in ["GBD", "GBN", "GBO", "GBP", "GBS"] {
            assert_eq!(
                classify(code),
                CountryCode::Special(SpecialCode::BritishNationalityClass)
            );
        }
        for code in ["UNO", "UNA", "UNK"] {
            assert_eq!(
                classify(code),
                CountryCode::Special(SpecialCode::UnitedNations)
            );
        }
        for code in ["XXA", "XXB", "XXC", "XXX"] {
            assert_eq!(
                classify(code),
                CountryCode::Special(SpecialCode::StatelessOrRefugee)
            );
        }
        assert_eq!(
            classify("EUE"),
            CountryCode::Special(SpecialCode::EuropeanUnion)
        );
        assert_eq!(classify("GBR"), CountryCode::State);
        assert_eq!(classify("SRB"), CountryCode::State);
        assert_eq!(classify("DEU"), CountryCode::Unknown);
        assert_eq!(classify("QQQ"), CountryCode::Unknown);
        assert_eq!(classify("<<<"), CountryCode::Unknown);
    }
}
