//! Entry/Exit System records (Regulation (EU) 2017/2226): what is kept, and for how long.

use chrono::{Months, NaiveDate};

/// What a record says happened at the border.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossingKind {
    Entry,
    Exit,
    Refusal,
}

impl CrossingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Entry => "ENTRY",
            Self::Exit => "EXIT",
            Self::Refusal => "REFUSAL",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ENTRY" => Some(Self::Entry),
            "EXIT" => Some(Self::Exit),
            "REFUSAL" => Some(Self::Refusal),
            _ => None,
        }
    }
}

/// EES Art. 34(1)(a), (b): 3 years after the exit or refusal; Art. 34(3): 5 years after the
/// last day of authorised stay for a traveller with no exit record (an overstayer), which this
/// service also keeps for a traveller whose exit showed an overstay.
const YEARS_KEPT: u32 = 3;
const YEARS_KEPT_FOR_OVERSTAYERS: u32 = 5;

/// Until when the traveller's file must be kept because of this record. An entry keeps it 5
/// years after the last day the stay could lawfully end, in case no exit is ever recorded.
pub fn keep_until(
    kind: CrossingKind,
    day: NaiveDate,
    overstayer: bool,
    latest_lawful_exit: Option<NaiveDate>,
) -> NaiveDate {
    let years = |from: NaiveDate, years: u32| {
        from.checked_add_months(Months::new(years * 12))
            .unwrap_or(NaiveDate::MAX)
    };
    match kind {
        CrossingKind::Entry => years(
            latest_lawful_exit.unwrap_or(day).max(day),
            YEARS_KEPT_FOR_OVERSTAYERS,
        ),
        CrossingKind::Exit if overstayer => years(day, YEARS_KEPT_FOR_OVERSTAYERS),
        CrossingKind::Exit | CrossingKind::Refusal => years(day, YEARS_KEPT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn ees_art_34_1_records_are_kept_3_years_after_exit_or_refusal() {
        assert_eq!(
            keep_until(CrossingKind::Exit, ymd(2026, 3, 1), false, None),
            ymd(2029, 3, 1)
        );
        assert_eq!(
            keep_until(CrossingKind::Refusal, ymd(2026, 3, 1), false, None),
            ymd(2029, 3, 1)
        );
    }

    #[test]
    fn ees_art_34_3_overstayers_are_kept_5_years() {
        assert_eq!(
            keep_until(CrossingKind::Exit, ymd(2026, 3, 1), true, None),
            ymd(2031, 3, 1)
        );
        assert_eq!(
            keep_until(
                CrossingKind::Entry,
                ymd(2026, 3, 1),
                false,
                Some(ymd(2026, 5, 29))
            ),
            ymd(2031, 5, 29)
        );
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in [
            CrossingKind::Entry,
            CrossingKind::Exit,
            CrossingKind::Refusal,
        ] {
            assert_eq!(CrossingKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(CrossingKind::parse("TRANSIT"), None);
    }
}
