//! A presented visa sticker against the record of issued visas (VIS Regulation (EC) No
//! 767/2008 Art. 18: verification at external border crossing points).

use chrono::NaiveDate;

/// An issued uniform visa as the consulate recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visa {
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    /// Entries allowed; none for a multiple-entry visa.
    pub entries_allowed: Option<u32>,
    pub entries_used: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisaCheck {
    Valid,
    /// No visa with this number was issued: the sticker may be false (Annex V Part B, D).
    NotIssued,
    NotYetValid,
    /// The visa expires before the intended departure (Visa Code Art. 24(1)).
    ExpiresBeforeDeparture,
    /// Every entry the visa allows was made (Visa Code Art. 24(1)).
    EntriesExhausted,
}

/// SBC Art. 6(1)(b): a valid visa for the whole intended stay, with an entry left.
pub fn check_visa(visa: Option<&Visa>, entry: NaiveDate, departure: NaiveDate) -> VisaCheck {
    let Some(visa) = visa else {
        return VisaCheck::NotIssued;
    };
    if entry < visa.valid_from {
        VisaCheck::NotYetValid
    } else if departure.max(entry) > visa.valid_until {
        VisaCheck::ExpiresBeforeDeparture
    } else if visa
        .entries_allowed
        .is_some_and(|allowed| visa.entries_used >= allowed)
    {
        VisaCheck::EntriesExhausted
    } else {
        VisaCheck::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn single_entry() -> Visa {
        Visa {
            valid_from: ymd(2026, 7, 1),
            valid_until: ymd(2026, 7, 31),
            entries_allowed: Some(1),
            entries_used: 0,
        }
    }

    #[test]
    fn sbc_art_6_1_b_a_visa_valid_for_the_stay_with_an_entry_left() {
        let visa = single_entry();
        assert_eq!(
            check_visa(Some(&visa), ymd(2026, 7, 10), ymd(2026, 7, 31)),
            VisaCheck::Valid
        );
        assert_eq!(
            check_visa(Some(&visa), ymd(2026, 6, 30), ymd(2026, 7, 5)),
            VisaCheck::NotYetValid
        );
        assert_eq!(
            check_visa(Some(&visa), ymd(2026, 7, 10), ymd(2026, 8, 1)),
            VisaCheck::ExpiresBeforeDeparture
        );
        let used = Visa {
            entries_used: 1,
            ..visa
        };
        assert_eq!(
            check_visa(Some(&used), ymd(2026, 7, 10), ymd(2026, 7, 12)),
            VisaCheck::EntriesExhausted
        );
        let multiple = Visa {
            entries_allowed: None,
            entries_used: 7,
            ..visa
        };
        assert_eq!(
            check_visa(Some(&multiple), ymd(2026, 7, 10), ymd(2026, 7, 12)),
            VisaCheck::Valid
        );
    }

    #[test]
    fn vis_art_18_a_sticker_never_issued_is_not_a_visa() {
        assert_eq!(
            check_visa(None, ymd(2026, 7, 10), ymd(2026, 7, 12)),
            VisaCheck::NotIssued
        );
    }
}
