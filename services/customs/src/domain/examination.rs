//! What happens to a lodged declaration afterwards: the physical examination of referred goods
//! (UCC Art. 188(c), 189) decides it, and invalidation (UCC Art. 174) ends it.

use super::{Verdict, risk::Lane};

/// What the examination found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExaminationResult {
    Conform,
    NotConform,
}

/// What a later decision needs to know about a lodged declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclarationState {
    pub lane: Lane,
    pub verdict: Verdict,
    pub invalidated: bool,
    pub examination: Option<ExaminationResult>,
    /// Duty, excise or VAT is owed (UCC Art. 77).
    pub duties_due: bool,
    /// A licence referral (CITES, dual-use) asks for a document before release.
    pub licence_required: bool,
}

/// Why a decision cannot be taken on the declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Invalidated,
    NotReferred,
    AlreadyExamined(ExaminationResult),
}

impl Rejection {
    /// The `ErrorInfo` reason.
    pub fn code(self) -> &'static str {
        match self {
            Self::Invalidated => "DECLARATION_INVALIDATED",
            Self::NotReferred => "DECLARATION_NOT_REFERRED",
            Self::AlreadyExamined(_) => "DECLARATION_ALREADY_EXAMINED",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Invalidated => "the declaration is invalidated",
            Self::NotReferred => {
                "the declaration was neither selected for the red lane nor otherwise referred"
            }
            Self::AlreadyExamined(ExaminationResult::Conform) => {
                "the goods were already examined and found conform"
            }
            Self::AlreadyExamined(ExaminationResult::NotConform) => {
                "the goods were already examined and found not conform"
            }
        }
    }
}

/// UCC Art. 188(c): goods are examined when the red lane selects them or a finding refers them.
pub fn is_referred(lane: Lane, verdict: Verdict) -> bool {
    lane == Lane::Red || verdict == Verdict::Refer
}

/// UCC Art. 191: goods found as declared are decided as if they had not been referred: released
/// once duties are paid and licences presented (and after a yellow lane's documentary check).
pub fn conform_verdict(state: &DeclarationState) -> Verdict {
    if state.duties_due || state.licence_required || state.lane == Lane::Yellow {
        Verdict::ClearWithConditions
    } else {
        Verdict::Clear
    }
}

/// The verdict the examination gives, or `None` when it was already recorded with this result.
pub fn examine(
    state: &DeclarationState,
    result: ExaminationResult,
) -> Result<Option<Verdict>, Rejection> {
    if state.invalidated {
        return Err(Rejection::Invalidated);
    }
    match state.examination {
        Some(recorded) if recorded == result => return Ok(None),
        Some(recorded) => return Err(Rejection::AlreadyExamined(recorded)),
        None => {}
    }
    if !is_referred(state.lane, state.verdict) {
        return Err(Rejection::NotReferred);
    }
    Ok(Some(match result {
        ExaminationResult::Conform => conform_verdict(state),
        // UCC Art. 198(1)(b): goods not as declared are not released.
        ExaminationResult::NotConform => Verdict::Refuse,
    }))
}

/// UCC Art. 174: whether invalidation changes the declaration; invalidating twice does nothing.
pub fn invalidates(state: &DeclarationState) -> bool {
    !state.invalidated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn red() -> DeclarationState {
        DeclarationState {
            lane: Lane::Red,
            verdict: Verdict::Refer,
            invalidated: false,
            examination: None,
            duties_due: false,
            licence_required: false,
        }
    }

    #[test]
    fn ucc_art_191_conform_goods_are_decided_as_if_not_referred() {
        assert_eq!(
            examine(&red(), ExaminationResult::Conform),
            Ok(Some(Verdict::Clear))
        );
        let owing = DeclarationState {
            duties_due: true,
            ..red()
        };
        assert_eq!(
            examine(&owing, ExaminationResult::Conform),
            Ok(Some(Verdict::ClearWithConditions))
        );
        let licence = DeclarationState {
            licence_required: true,
            ..red()
        };
        assert_eq!(conform_verdict(&licence), Verdict::ClearWithConditions);
        // Undeclared cash referred a yellow-lane declaration: the documentary check remains.
        let cash = DeclarationState {
            lane: Lane::Yellow,
            ..red()
        };
        assert_eq!(
            examine(&cash, ExaminationResult::Conform),
            Ok(Some(Verdict::ClearWithConditions))
        );
    }

    #[test]
    fn ucc_art_198_goods_not_as_declared_are_refused() {
        assert_eq!(
            examine(&red(), ExaminationResult::NotConform),
            Ok(Some(Verdict::Refuse))
        );
    }

    #[test]
    fn ucc_art_188_only_referred_live_declarations_are_examined_once() {
        let green = DeclarationState {
            lane: Lane::Green,
            verdict: Verdict::ClearWithConditions,
            ..red()
        };
        assert_eq!(
            examine(&green, ExaminationResult::Conform),
            Err(Rejection::NotReferred)
        );
        let invalidated = DeclarationState {
            invalidated: true,
            ..red()
        };
        assert_eq!(
            examine(&invalidated, ExaminationResult::Conform),
            Err(Rejection::Invalidated)
        );
        let examined = DeclarationState {
            verdict: Verdict::Clear,
            examination: Some(ExaminationResult::Conform),
            ..red()
        };
        assert_eq!(examine(&examined, ExaminationResult::Conform), Ok(None));
        assert_eq!(
            examine(&examined, ExaminationResult::NotConform),
            Err(Rejection::AlreadyExamined(ExaminationResult::Conform))
        );
    }

    #[test]
    fn ucc_art_174_a_declaration_is_invalidated_once() {
        assert!(invalidates(&red()));
        assert!(!invalidates(&DeclarationState {
            invalidated: true,
            ..red()
        }));
    }
}
