//! Movement Reference Numbers (Union Customs Code Delegated Regulation 2015/2446 Annex B, data
//! element 12 28 000 000): year (2 digits), declaring country (ISO 3166-1 alpha-2), 13
//! characters unique to the declaration, and a check character computed as ISO 6346 does.

/// Value of a character in the ISO 6346 check: digits as such, letters from A = 10 upwards
/// skipping 11, 22 and 33 (the multiples of 11).
fn iso_6346_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => {
            let plain = u32::from(c - b'A') + 10;
            Some(plain + (plain - 1) / 10)
        }
        _ => None,
    }
}

/// ISO 6346: each character's value times 2^position, summed, modulo 11, then modulo 10.
pub fn check_character(body: &str) -> Option<char> {
    let mut sum = 0u64;
    for (i, c) in body.bytes().enumerate() {
        sum += u64::from(iso_6346_value(c)?) << i;
    }
    Some(char::from(b'0' + ((sum % 11) % 10) as u8))
}

/// Whether an 18-character MRN carries a correct check character.
pub fn is_valid(mrn: &str) -> bool {
    mrn.len() == 18
        && mrn.is_ascii()
        && check_character(&mrn[..17]).is_some_and(|c| mrn.as_bytes()[17] == c as u8)
}

/// Builds an MRN from the year, the declaring country and 13 characters taken from `unique`
/// (a random id the caller passes in, so that the rule stays pure).
pub fn build(year: i32, country_alpha2: &str, unique: u128) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut body = format!("{:02}{country_alpha2}", year.rem_euclid(100));
    let mut rest = unique;
    for _ in 0..13 {
        body.push(char::from(ALPHABET[(rest % 36) as usize]));
        rest /= 36;
    }
    let check = check_character(&body).unwrap_or('0');
    body.push(check);
    body
}

/// ISO 3166-1 alpha-2 code of a declaring country given as alpha-3 (or ICAO `D<<`), for the
/// countries whose customs offices bordermesh deployments serve; `ZZ` (user-assigned) otherwise.
pub fn country_alpha2(alpha3: &str) -> &'static str {
    const TABLE: &[(&str, &str)] = &[
        ("ALB", "AL"),
        ("AND", "AD"),
        ("ARM", "AM"),
        ("AUT", "AT"),
        ("AZE", "AZ"),
        ("BEL", "BE"),
        ("BGR", "BG"),
        ("BIH", "BA"),
        ("BLR", "BY"),
        ("CHE", "CH"),
        ("CYP", "CY"),
        ("CZE", "CZ"),
        ("D<<", "DE"),
        ("DEU", "DE"),
        ("DNK", "DK"),
        ("ESP", "ES"),
        ("EST", "EE"),
        ("FIN", "FI"),
        ("FRA", "FR"),
        ("GBR", "GB"),
        ("GEO", "GE"),
        ("GRC", "GR"),
        ("HRV", "HR"),
        ("HUN", "HU"),
        ("IRL", "IE"),
        ("ISL", "IS"),
        ("ITA", "IT"),
        ("KAZ", "KZ"),
        ("LIE", "LI"),
        ("LTU", "LT"),
        ("LUX", "LU"),
        ("LVA", "LV"),
        ("MAR", "MA"),
        ("MDA", "MD"),
        ("MKD", "MK"),
        ("MLT", "MT"),
        ("MNE", "ME"),
        ("NLD", "NL"),
        ("NOR", "NO"),
        ("POL", "PL"),
        ("PRT", "PT"),
        ("ROU", "RO"),
        ("RUS", "RU"),
        ("SRB", "RS"),
        ("SVK", "SK"),
        ("SVN", "SI"),
        ("SWE", "SE"),
        ("TUN", "TN"),
        ("TUR", "TR"),
        ("UKR", "UA"),
        ("XKX", "XK"),
    ];
    TABLE
        .iter()
        .find(|(three, _)| *three == alpha3)
        .map_or("ZZ", |(_, two)| two)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_6346_letter_values_skip_multiples_of_eleven() {
        let values: Vec<_> = b"ABKLUVZ"
            .iter()
            .map(|&c| iso_6346_value(c).unwrap())
            .collect();
        assert_eq!(values, [10, 12, 21, 23, 32, 34, 38]);
    }

    #[test]
    fn ucc_annex_b_mrn_example_is_valid() {
        assert!(is_valid("22ITZXBZYUTJFLJXK6"));
        assert!(!is_valid("22ITZXBZYUTJFLJXK7"));
        assert!(!is_valid("22ITZXBZYUTJFLJXK"));
    }

    #[test]
    fn declaring_countries_use_iso_3166_alpha_2() {
        assert_eq!(country_alpha2("SVN"), "SI");
        assert_eq!(country_alpha2("D<<"), "DE");
        assert_eq!(country_alpha2("ATA"), "ZZ");
    }

    #[test]
    fn built_mrns_are_valid_and_18_characters() {
        for unique in [0u128, 1, u128::MAX, 0x1234_5678_9abc_def0] {
            let mrn = build(2026, "SI", unique);
            assert_eq!(mrn.len(), 18);
            assert!(mrn.starts_with("26SI"));
            assert!(is_valid(&mrn), "{mrn}");
        }
    }
}
