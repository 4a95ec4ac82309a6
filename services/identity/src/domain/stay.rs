//! The 90/180-day rule for short stays of third-country nationals (Schengen Borders Code
//! Art. 6(1)), read as the Commission's short-stay calculator reads it: on any day, the days of
//! presence in the 180-day window ending that day, the day of entry and the day of exit both
//! counted, may not exceed 90.

use std::collections::BTreeSet;

use chrono::{Days, NaiveDate};

/// SBC Art. 6(1): at most 90 days in any 180-day period.
pub const MAX_DAYS: u32 = 90;
/// SBC Art. 6(1): the period is 180 days, the day considered being the last of them.
pub const WINDOW_DAYS: u64 = 180;

/// One stay in the territory: from the day of entry to the day of exit, both counted; an open
/// stay (no exit yet) lasts until the day assessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stay {
    pub entry: NaiveDate,
    pub exit: Option<NaiveDate>,
}

/// The rule on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StayAssessment {
    pub days_used: u32,
    pub days_remaining: u32,
    pub window_start: NaiveDate,
    /// The last day the traveller may leave without overstaying when staying on from the day
    /// assessed; none when that day already overstays.
    pub latest_exit: Option<NaiveDate>,
    pub overstay_days: u32,
}

/// First day of the 180-day window that ends on `day` (SBC Art. 6(1)).
pub fn window_start(day: NaiveDate) -> NaiveDate {
    day.checked_sub_days(Days::new(WINDOW_DAYS - 1))
        .unwrap_or(NaiveDate::MIN)
}

/// The first day whose records can weigh on an assessment on `day` or later: two windows back,
/// as far as a presence count looks (SBC Art. 6(1)). A stay open on that day is carried by the
/// entry before it.
pub fn relevant_since(day: NaiveDate) -> NaiveDate {
    window_start(window_start(day))
}

/// Days of presence, each counted once even where recorded stays overlap.
struct Presence(BTreeSet<NaiveDate>);

impl Presence {
    fn of(stays: &[Stay], until: NaiveDate) -> Self {
        let mut days = BTreeSet::new();
        for stay in stays {
            let last = stay.exit.unwrap_or(until).min(until);
            // A record older than two windows before `until` cannot weigh on any day assessed.
            let first = stay.entry.max(relevant_since(until));
            for day in first.iter_days().take_while(|day| *day <= last) {
                days.insert(day);
            }
        }
        Self(days)
    }

    fn used_on(&self, day: NaiveDate) -> u32 {
        self.0.range(window_start(day)..=day).count() as u32
    }

    /// Largest excess over 90 days on any day from `from` to `to`.
    fn worst_excess(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        from.iter_days()
            .take_while(|day| *day <= to)
            .map(|day| self.used_on(day).saturating_sub(MAX_DAYS))
            .max()
            .unwrap_or(0)
    }
}

/// The rule on `day` for a traveller with these stays (open stays last until `day`), and the
/// latest exit if the traveller is present on `day` and stays on.
pub fn assess(stays: &[Stay], day: NaiveDate) -> StayAssessment {
    let presence = Presence::of(stays, day);
    let days_used = presence.used_on(day);
    let open_from = stays
        .iter()
        .filter(|stay| stay.exit.is_none() && stay.entry <= day)
        .map(|stay| stay.entry)
        .min();
    let overstay_days = match open_from {
        Some(entry) => presence.worst_excess(entry.max(window_start(day)), day),
        None => days_used.saturating_sub(MAX_DAYS),
    };
    StayAssessment {
        days_used,
        days_remaining: MAX_DAYS.saturating_sub(days_used),
        window_start: window_start(day),
        latest_exit: latest_exit(stays, day),
        overstay_days,
    }
}

/// The last day of a continuous stay from `day` on that keeps every window within 90 days.
fn latest_exit(stays: &[Stay], day: NaiveDate) -> Option<NaiveDate> {
    let mut with_today = stays.to_vec();
    with_today.push(Stay {
        entry: day,
        exit: None,
    });
    // Staying on can never last longer than 90 days past `day`.
    let horizon = day.checked_add_days(Days::new(u64::from(MAX_DAYS)))?;
    let presence = Presence::of(&with_today, horizon);
    let mut latest = None;
    for candidate in day.iter_days().take_while(|d| *d <= horizon) {
        if presence.used_on(candidate) > MAX_DAYS {
            break;
        }
        latest = Some(candidate);
    }
    latest
}

/// Days by which a planned stay from `entry` to `departure` would exceed the rule on its worst
/// day (SBC Art. 6(1); a positive answer refuses entry with Annex V Part B code F).
pub fn planned_overstay(previous: &[Stay], entry: NaiveDate, departure: NaiveDate) -> u32 {
    let departure = departure.max(entry);
    let mut stays = previous.to_vec();
    stays.push(Stay {
        entry,
        exit: Some(departure),
    });
    Presence::of(&stays, departure).worst_excess(entry, departure)
}

/// Pairs entry and exit records, in date order, into stays; an exit without an entry (recorded
/// before EES started) is a stay of its own day.
pub fn stays_from_crossings(crossings: &[(NaiveDate, bool)]) -> Vec<Stay> {
    let mut sorted = crossings.to_vec();
    sorted.sort();
    let mut stays = Vec::new();
    let mut open: Option<NaiveDate> = None;
    for (day, is_entry) in sorted {
        match (is_entry, open) {
            (true, None) => open = Some(day),
            (true, Some(_)) => {}
            (false, Some(entry)) => {
                stays.push(Stay {
                    entry,
                    exit: Some(day),
                });
                open = None;
            }
            (false, None) => stays.push(Stay {
                entry: day,
                exit: Some(day),
            }),
        }
    }
    if let Some(entry) = open {
        stays.push(Stay { entry, exit: None });
    }
    stays
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn stay(entry: NaiveDate, exit: NaiveDate) -> Stay {
        Stay {
            entry,
            exit: Some(exit),
        }
    }

    #[test]
    fn sbc_art_6_1_exit_on_2022_04_01_has_a_window_from_2021_10_04() {
        assert_eq!(window_start(ymd(2022, 4, 1)), ymd(2021, 10, 4));
        let assessment = assess(&[stay(ymd(2022, 3, 1), ymd(2022, 4, 1))], ymd(2022, 4, 1));
        assert_eq!(assessment.window_start, ymd(2021, 10, 4));
    }

    #[test]
    fn sbc_art_6_1_day_of_entry_and_day_of_exit_both_count() {
        let stays = [stay(ymd(2022, 3, 1), ymd(2022, 3, 10))];
        let assessment = assess(&stays, ymd(2022, 4, 1));
        assert_eq!(assessment.days_used, 10);
        assert_eq!(assessment.days_remaining, 80);
        assert_eq!(assessment.overstay_days, 0);
        // A one-day visit counts one day.
        assert_eq!(
            assess(&[stay(ymd(2022, 3, 1), ymd(2022, 3, 1))], ymd(2022, 3, 1)).days_used,
            1
        );
    }

    #[test]
    fn sbc_art_6_1_days_outside_the_window_no_longer_count() {
        // 2021-10-03 is the day before the window of 2022-04-01 opens.
        let stays = [
            stay(ymd(2021, 9, 24), ymd(2021, 10, 3)),
            stay(ymd(2021, 10, 4), ymd(2021, 10, 5)),
        ];
        assert_eq!(assess(&stays, ymd(2022, 4, 1)).days_used, 2);
    }

    #[test]
    fn sbc_art_6_1_latest_exit_keeps_every_window_within_90_days() {
        // Entering on 2022-01-01 with no earlier stay: 90 days end on 2022-03-31.
        let entering = [Stay {
            entry: ymd(2022, 1, 1),
            exit: None,
        }];
        let assessment = assess(&entering, ymd(2022, 1, 1));
        assert_eq!(assessment.latest_exit, Some(ymd(2022, 3, 31)));
        // With 30 days used in the autumn, the window still holds them until they drop out.
        let earlier = [
            stay(ymd(2021, 10, 1), ymd(2021, 10, 30)),
            Stay {
                entry: ymd(2022, 1, 1),
                exit: None,
            },
        ];
        let assessment = assess(&earlier, ymd(2022, 1, 1));
        assert_eq!(assessment.days_used, 31);
        // Up to 2022-03-01 the autumn's 30 days and 60 new ones fill the window exactly; after
        // that, autumn days drop out one a day as new days are added.
        let latest = assessment.latest_exit.unwrap();
        assert!(planned_overstay(&earlier[..1], ymd(2022, 1, 1), latest) == 0);
        assert!(planned_overstay(&earlier[..1], ymd(2022, 1, 1), latest.succ_opt().unwrap()) > 0);
    }

    #[test]
    fn sbc_annex_v_b_f_a_planned_stay_beyond_90_days_overstays() {
        assert_eq!(planned_overstay(&[], ymd(2022, 1, 1), ymd(2022, 3, 31)), 0);
        assert_eq!(planned_overstay(&[], ymd(2022, 1, 1), ymd(2022, 4, 1)), 1);
        let previous = [stay(ymd(2021, 12, 1), ymd(2021, 12, 31))];
        assert_eq!(
            planned_overstay(&previous, ymd(2022, 1, 10), ymd(2022, 3, 10)),
            1
        );
    }

    #[test]
    fn an_exit_after_too_long_a_stay_reports_the_overstay() {
        let stays = [Stay {
            entry: ymd(2022, 1, 1),
            exit: None,
        }];
        let assessment = assess(&stays, ymd(2022, 4, 10));
        assert_eq!(assessment.days_used, 100);
        assert_eq!(assessment.overstay_days, 10);
        assert_eq!(assessment.days_remaining, 0);
        assert_eq!(assessment.latest_exit, None);
    }

    #[test]
    fn crossings_pair_into_stays() {
        let crossings = [
            (ymd(2022, 3, 10), false),
            (ymd(2022, 3, 1), true),
            (ymd(2022, 5, 1), true),
        ];
        assert_eq!(
            stays_from_crossings(&crossings),
            [
                stay(ymd(2022, 3, 1), ymd(2022, 3, 10)),
                Stay {
                    entry: ymd(2022, 5, 1),
                    exit: None
                }
            ]
        );
    }
}
