//! What happens to a recorded check after the first line: the second line's decision on a
//! referred traveller (SBC Art. 8(5)) and a refusal of entry that compensates a crossing
//! another agency refused (SBC Art. 14), with the EES record each leaves (EES Art. 14, 18).

use super::{
    check::{Category, Direction, Verdict},
    ees::CrossingKind,
};

/// SBC Annex V Part B: the refusal form's reasons are the letters A to I.
pub fn is_refusal_code(code: &str) -> bool {
    matches!(code, "A" | "B" | "C" | "D" | "E" | "F" | "G" | "H" | "I")
}

/// The second line's decision after the interview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Admitted,
    Refused,
}

/// What a later decision needs to know about a recorded check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckState {
    pub category: Category,
    pub direction: Direction,
    /// The verdict the first line gave.
    pub first_line: Verdict,
    /// The verdict now, after any later decision.
    pub current: Verdict,
    /// The second line's outcome, once recorded.
    pub second_line: Option<Outcome>,
    /// The kind of the EES record the check wrote, if it wrote one.
    pub ees_record: Option<CrossingKind>,
}

/// What a decision changes on the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing: the check already says so.
    Unchanged,
    /// The verdict becomes REFUSE.
    Refuse { ees: EesChange },
    /// The verdict becomes CLEAR.
    Admit { ees: EesChange },
}

/// What a decision does to the traveller's EES file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EesChange {
    None,
    /// EES Art. 18: the entry record the check wrote becomes a refusal record, never a second one.
    EntryBecomesRefusal,
    /// EES Art. 18: a refusal record, for a check that wrote none.
    RecordRefusal,
    /// EES Art. 14: the entry record the referred check did not write.
    RecordEntry,
}

/// Why a decision cannot be taken on the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Entry can be refused only at an entry check (SBC Art. 14).
    NotAnEntry,
    /// Only an exit check's exit can be withdrawn.
    NotAnExit,
    /// Only a referred check goes to the second line (SBC Art. 8(5)).
    NotReferred,
    /// The second line already decided otherwise.
    AlreadyDecided(Outcome),
    /// Entry was already refused; admitting the traveller takes a new check.
    AlreadyRefused,
}

impl Rejection {
    /// The `ErrorInfo` reason.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotAnEntry => "NOT_AN_ENTRY_CHECK",
            Self::NotAnExit => "NOT_AN_EXIT_CHECK",
            Self::NotReferred => "CHECK_NOT_REFERRED",
            Self::AlreadyDecided(_) => "INTERVIEW_ALREADY_DECIDED",
            Self::AlreadyRefused => "ENTRY_ALREADY_REFUSED",
        }
    }

    pub fn message(self) -> String {
        match self {
            Self::NotAnEntry => "entry can be refused only on an entry check".into(),
            Self::NotAnExit => "an exit can be withdrawn only on an exit check".into(),
            Self::NotReferred => "the check was not referred to the second line".into(),
            Self::AlreadyDecided(outcome) => format!(
                "the second line already {} the traveller",
                match outcome {
                    Outcome::Admitted => "admitted",
                    Outcome::Refused => "refused",
                }
            ),
            Self::AlreadyRefused => {
                "entry was already refused on this check; admission needs a new check".into()
            }
        }
    }
}

/// EES Art. 18: a third-country national's refusal is recorded once, in place of an entry.
fn refusal_ees(state: &CheckState) -> EesChange {
    match (state.category, state.ees_record) {
        (Category::FreeMovement, _) => EesChange::None,
        (_, Some(CrossingKind::Entry)) => EesChange::EntryBecomesRefusal,
        (_, Some(_)) => EesChange::None,
        (_, None) => EesChange::RecordRefusal,
    }
}

/// SBC Art. 14: entry refused on a recorded entry check; a refused check stays as it is.
pub fn refuse_entry(state: &CheckState) -> Result<Change, Rejection> {
    if state.direction != Direction::Entry {
        return Err(Rejection::NotAnEntry);
    }
    if state.current == Verdict::Refuse {
        return Ok(Change::Unchanged);
    }
    Ok(Change::Refuse {
        ees: refusal_ees(state),
    })
}

/// EES Art. 35: an exit recorded for a traveller who did not leave (the crossing was turned
/// back) is inaccurate and is erased; true when the check wrote an exit record still there.
pub fn withdraw_exit(state: &CheckState) -> Result<bool, Rejection> {
    if state.direction != Direction::Exit {
        return Err(Rejection::NotAnExit);
    }
    Ok(state.ees_record == Some(CrossingKind::Exit))
}

/// SBC Art. 8(5): the second line decides on a referred check, once.
pub fn interview(state: &CheckState, outcome: Outcome) -> Result<Change, Rejection> {
    if state.first_line != Verdict::Refer {
        return Err(Rejection::NotReferred);
    }
    match state.second_line {
        Some(decided) if decided == outcome => return Ok(Change::Unchanged),
        Some(decided) => return Err(Rejection::AlreadyDecided(decided)),
        None => {}
    }
    match outcome {
        Outcome::Refused => {
            if state.direction != Direction::Entry {
                return Err(Rejection::NotAnEntry);
            }
            // Refused already by a compensation: the interview confirms it.
            Ok(Change::Refuse {
                ees: refusal_ees(state),
            })
        }
        Outcome::Admitted => {
            if state.current == Verdict::Refuse {
                return Err(Rejection::AlreadyRefused);
            }
            let ees = match (state.category, state.direction, state.ees_record) {
                (Category::ThirdCountry, Direction::Entry, None) => EesChange::RecordEntry,
                _ => EesChange::None,
            };
            Ok(Change::Admit { ees })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn referred_entry() -> CheckState {
        CheckState {
            category: Category::ThirdCountry,
            direction: Direction::Entry,
            first_line: Verdict::Refer,
            current: Verdict::Refer,
            second_line: None,
            ees_record: None,
        }
    }

    #[test]
    fn sbc_annex_v_part_b_codes_are_a_to_i() {
        assert!(is_refusal_code("A"));
        assert!(is_refusal_code("I"));
        assert!(!is_refusal_code("J"));
        assert!(!is_refusal_code("a"));
        assert!(!is_refusal_code("AB"));
    }

    #[test]
    fn ees_art_18_a_cleared_entry_record_becomes_the_refusal_record() {
        let cleared = CheckState {
            first_line: Verdict::Clear,
            current: Verdict::Clear,
            ees_record: Some(CrossingKind::Entry),
            ..referred_entry()
        };
        assert_eq!(
            refuse_entry(&cleared),
            Ok(Change::Refuse {
                ees: EesChange::EntryBecomesRefusal
            })
        );
        assert_eq!(
            refuse_entry(&referred_entry()),
            Ok(Change::Refuse {
                ees: EesChange::RecordRefusal
            })
        );
        let refused = CheckState {
            current: Verdict::Refuse,
            ees_record: Some(CrossingKind::Refusal),
            ..cleared
        };
        assert_eq!(refuse_entry(&refused), Ok(Change::Unchanged));
    }

    #[test]
    fn sbc_art_14_entry_is_refused_only_at_entry_and_ees_leaves_union_citizens_out() {
        let exit = CheckState {
            direction: Direction::Exit,
            ..referred_entry()
        };
        assert_eq!(refuse_entry(&exit), Err(Rejection::NotAnEntry));
        let citizen = CheckState {
            category: Category::FreeMovement,
            ..referred_entry()
        };
        assert_eq!(
            refuse_entry(&citizen),
            Ok(Change::Refuse {
                ees: EesChange::None
            })
        );
    }

    #[test]
    fn sbc_art_8_5_the_second_line_decides_a_referred_check_once() {
        assert_eq!(
            interview(&referred_entry(), Outcome::Admitted),
            Ok(Change::Admit {
                ees: EesChange::RecordEntry
            })
        );
        let admitted = CheckState {
            current: Verdict::Clear,
            second_line: Some(Outcome::Admitted),
            ees_record: Some(CrossingKind::Entry),
            ..referred_entry()
        };
        assert_eq!(
            interview(&admitted, Outcome::Admitted),
            Ok(Change::Unchanged)
        );
        assert_eq!(
            interview(&admitted, Outcome::Refused),
            Err(Rejection::AlreadyDecided(Outcome::Admitted))
        );
        let cleared = CheckState {
            first_line: Verdict::Clear,
            current: Verdict::Clear,
            ..referred_entry()
        };
        assert_eq!(
            interview(&cleared, Outcome::Admitted),
            Err(Rejection::NotReferred)
        );
    }

    #[test]
    fn a_check_refused_by_compensation_is_not_admitted_by_a_later_interview() {
        let compensated = CheckState {
            current: Verdict::Refuse,
            ees_record: Some(CrossingKind::Refusal),
            ..referred_entry()
        };
        assert_eq!(
            interview(&compensated, Outcome::Admitted),
            Err(Rejection::AlreadyRefused)
        );
        assert_eq!(
            interview(&compensated, Outcome::Refused),
            Ok(Change::Refuse {
                ees: EesChange::None
            })
        );
    }

    #[test]
    fn an_admitted_exit_writes_nothing_more_since_the_exit_was_recorded() {
        let exit = CheckState {
            direction: Direction::Exit,
            ees_record: Some(CrossingKind::Exit),
            ..referred_entry()
        };
        assert_eq!(
            interview(&exit, Outcome::Admitted),
            Ok(Change::Admit {
                ees: EesChange::None
            })
        );
        assert_eq!(
            interview(&exit, Outcome::Refused),
            Err(Rejection::NotAnEntry)
        );
    }

    #[test]
    fn ees_art_35_only_an_exit_checks_recorded_exit_is_withdrawn() {
        let exit = CheckState {
            direction: Direction::Exit,
            first_line: Verdict::Clear,
            current: Verdict::Clear,
            ees_record: Some(CrossingKind::Exit),
            ..referred_entry()
        };
        assert_eq!(withdraw_exit(&exit), Ok(true));
        let withdrawn = CheckState {
            ees_record: None,
            ..exit
        };
        assert_eq!(withdraw_exit(&withdrawn), Ok(false));
        let citizen = CheckState {
            category: Category::FreeMovement,
            ees_record: None,
            ..exit
        };
        assert_eq!(withdraw_exit(&citizen), Ok(false));
        assert_eq!(withdraw_exit(&referred_entry()), Err(Rejection::NotAnExit));
    }
}
