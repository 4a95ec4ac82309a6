//! Economic operators: the EORI number that identifies them and their AEO status.

/// An Economic Operators Registration and Identification number (UCC Art. 9): the ISO 3166-1
/// alpha-2 code of the registering state followed by up to 15 letters or digits (Implementing
/// Regulation (EU) 2015/2447 Annex 12-01).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Eori(String);

impl Eori {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let bytes = text.as_bytes();
        if bytes.len() < 3 || bytes.len() > 17 {
            return Err("must be a country code and 1 to 15 letters or digits");
        }
        if !bytes[..2].iter().all(u8::is_ascii_uppercase) {
            return Err("must start with an ISO 3166-1 alpha-2 country code in capitals");
        }
        if !bytes[2..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err("after the country code, only capital letters and digits");
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The state that registered the operator.
    pub fn country(&self) -> &str {
        &self.0[..2]
    }
}

/// The declarant or principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trader {
    pub eori: Eori,
    /// Authorised Economic Operator status (UCC Art. 38): fewer controls.
    pub authorised_economic_operator: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ucc_art_9_eori_is_a_country_code_and_up_to_15_characters() {
        assert_eq!(Eori::parse("RS100200300").unwrap().country(), "RS");
        assert!(Eori::parse("DE123456789012345").is_ok());
        assert!(Eori::parse("DE1234567890123456").is_err());
        assert!(Eori::parse("de123").is_err());
        assert!(Eori::parse("12345").is_err());
        assert!(Eori::parse("DE12-45").is_err());
        assert!(Eori::parse("DE").is_err());
    }
}
