//! The health entry document's lifecycle and pre-notification deadline (Regulation (EU)
//! 2017/625 Art. 56; Implementing Regulation (EU) 2019/1715 Art. 39-41; Implementing Regulation
//! (EU) 2019/1666 Art. 1).

use chrono::{Datelike, NaiveDate, Weekday};
use sha2::{Digest, Sha256};

use super::regime::DocumentType;

/// Where a CHED is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Part I submitted.
    New,
    /// Presented with a consignment; checks under way.
    InProgress,
    /// Part II decision recorded.
    Decided,
    /// Part III follow-up recorded: the document has served its consignment.
    Used,
    /// Withdrawn before a decision.
    Cancelled,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::InProgress => "in progress",
            Self::Decided => "decided",
            Self::Used => "used",
            Self::Cancelled => "cancelled",
        }
    }
}

/// What can be done to a CHED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Presented with a consignment in an assessment.
    Link,
    /// Part II recorded.
    Decide,
    /// Part III recorded.
    FollowUp,
    Cancel,
    /// Given back by the consignment it was presented with, whose crossing was refused or
    /// abandoned before a decision.
    Release,
}

/// A transition the lifecycle does not allow from the document's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAllowed {
    pub from: Status,
    pub transition: Transition,
}

impl std::fmt::Display for NotAllowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.transition {
            Transition::Link => "presented with a consignment",
            Transition::Decide => "decided",
            Transition::FollowUp => "followed up",
            Transition::Cancel => "cancelled",
            Transition::Release => "released",
        };
        write!(
            f,
            "a {} health entry document cannot be {what}",
            self.from.name()
        )
    }
}

/// Implementing Regulation (EU) 2019/1715 Art. 39-41: a CHED serves one consignment, from
/// Part I through presentation and the Part II decision to the Part III follow-up; the operator
/// can withdraw it only before it is presented.
pub fn transition(from: Status, transition: Transition) -> Result<Status, NotAllowed> {
    use Status::*;
    use Transition::*;
    match (from, transition) {
        // Only a document that no consignment has used yet can be presented: never two.
        (New, Link) => Ok(InProgress),
        // Part II decides on the consignment presented at the border control post.
        (InProgress, Decide) => Ok(Decided),
        (Decided, FollowUp) => Ok(Used),
        (New, Cancel) => Ok(Cancelled),
        // Art. 56(1): a document serves the consignment actually checked. Until Part II decides,
        // none was, so a refused or abandoned crossing gives the document back for another.
        (InProgress, Release) => Ok(New),
        _ => Err(NotAllowed { from, transition }),
    }
}

fn is_working_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The last working day before `arrival`: Part I must be in by then.
pub fn pre_notification_deadline(arrival: NaiveDate) -> NaiveDate {
    let mut day = arrival;
    loop {
        day = day.pred_opt().unwrap_or(day);
        if is_working_day(day) || day == NaiveDate::MIN {
            return day;
        }
    }
}

/// Implementing Regulation (EU) 2019/1666 Art. 1(1): Part I is due at least one working day
/// before the expected arrival; weekends are not working days.
pub fn is_late(submitted_on: NaiveDate, expected_arrival: NaiveDate) -> bool {
    submitted_on > pre_notification_deadline(expected_arrival)
}

/// A TRACES-style reference number, `CHEDP.HRV.2026.04711235`: the document type, the country
/// of the border control post, the year, and eight digits derived from the submission's request
/// id, so that a retried submission gets the same number.
pub fn reference(document: DocumentType, country: &str, year: i32, request_id: &str) -> String {
    let digest = Sha256::digest(request_id.as_bytes());
    let number = u64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ]) % 100_000_000;
    format!(
        "{}.{country}.{year}.{number:08}",
        document.reference_prefix()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn implementing_regulation_2019_1666_art_1_part_i_is_due_one_working_day_before_arrival() {
        // Arrival on Thursday 2026-07-16: Part I is due by Wednesday.
        assert!(!is_late(day(2026, 7, 15), day(2026, 7, 16)));
        assert!(is_late(day(2026, 7, 16), day(2026, 7, 16)));
        assert!(is_late(day(2026, 7, 17), day(2026, 7, 16)));
    }

    #[test]
    fn implementing_regulation_2019_1666_art_1_weekends_are_not_working_days() {
        // Arrival on Monday 2026-07-20: the last working day before it is Friday the 17th.
        assert_eq!(
            pre_notification_deadline(day(2026, 7, 20)),
            day(2026, 7, 17)
        );
        assert!(!is_late(day(2026, 7, 17), day(2026, 7, 20)));
        assert!(is_late(day(2026, 7, 18), day(2026, 7, 20)));
        assert!(is_late(day(2026, 7, 19), day(2026, 7, 20)));
    }

    #[test]
    fn implementing_regulation_2019_1715_a_ched_serves_one_consignment() {
        assert_eq!(
            transition(Status::New, Transition::Link),
            Ok(Status::InProgress)
        );
        for used in [
            Status::InProgress,
            Status::Decided,
            Status::Used,
            Status::Cancelled,
        ] {
            assert!(transition(used, Transition::Link).is_err(), "{used:?}");
        }
    }

    #[test]
    fn implementing_regulation_2019_1715_the_lifecycle_runs_part_i_to_part_iii() {
        let decided = transition(Status::InProgress, Transition::Decide).unwrap();
        assert_eq!(decided, Status::Decided);
        assert_eq!(transition(decided, Transition::FollowUp), Ok(Status::Used));
        assert!(transition(decided, Transition::Cancel).is_err());
        assert!(transition(Status::New, Transition::FollowUp).is_err());
        assert!(transition(Status::New, Transition::Decide).is_err());
        assert_eq!(
            transition(Status::New, Transition::Cancel),
            Ok(Status::Cancelled)
        );
        assert!(transition(Status::InProgress, Transition::Cancel).is_err());
        assert!(transition(Status::Cancelled, Transition::Decide).is_err());
        assert!(transition(Status::Used, Transition::Decide).is_err());
    }

    #[test]
    fn a_reference_names_type_post_and_year_and_is_stable_for_a_retry() {
        let first = reference(DocumentType::ChedP, "HRV", 2026, "id-1");
        assert!(first.starts_with("CHEDP.HRV.2026."), "{first}");
        assert_eq!(first.len(), "CHEDP.HRV.2026.".len() + 8);
        assert_eq!(first, reference(DocumentType::ChedP, "HRV", 2026, "id-1"));
        assert_ne!(first, reference(DocumentType::ChedP, "HRV", 2026, "id-2"));
    }

    #[test]
    fn reg_2017_625_art_56_an_undecided_document_is_released_for_another_consignment() {
        assert_eq!(
            transition(Status::InProgress, Transition::Release),
            Ok(Status::New)
        );
        for served in [
            Status::Decided,
            Status::Used,
            Status::Cancelled,
            Status::New,
        ] {
            assert!(
                transition(served, Transition::Release).is_err(),
                "{served:?}"
            );
        }
    }
}
