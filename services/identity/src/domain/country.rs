//! Country codes as ICAO 9303 Part 3 writes them, and who is a Union citizen for the checks.

/// Nationalities whose holders enjoy the Union right of free movement (Schengen Borders Code
/// Art. 2(5)): the EU member states, the EEA states and Switzerland. Germany is `D<<`.
const FREE_MOVEMENT: &[&str] = &[
    "AUT", "BEL", "BGR", "CHE", "CYP", "CZE", "D<<", "DNK", "ESP", "EST", "FIN", "FRA", "GRC",
    "HRV", "HUN", "IRL", "ISL", "ITA", "LIE", "LTU", "LUX", "LVA", "MLT", "NLD", "NOR", "POL",
    "PRT", "ROU", "SVK", "SVN", "SWE",
];

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
}
