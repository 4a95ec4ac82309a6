//! What undoing a crossing means: when a crossing is refused or abandoned, what the agencies
//! recorded for it on the way is undone the way each agency's law wants. A one-stop crossing is
//! turned back as a whole, so nobody in it has entered or left, no goods were released and no
//! health entry document was used.

use bordermesh_proto::{
    common::v1::{Direction, Verdict},
    crossing::v1::Decision,
    customs::v1::{Declaration, DeclarationStatus},
    identity::v1::CheckTravellerResponse,
    sanitary::v1::{Assessment, AssessmentStatus},
};

/// Why a crossing is undone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cause<'a> {
    Refused(&'a Decision),
    /// An agency found the submission invalid after others had recorded it.
    Rejected,
    Abandoned,
}

/// One compensating action; each is a saga step of its own, idempotent at its agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compensation {
    /// Regulation (EU) 2017/2226 Art. 18: the entry record of a traveller turned back becomes
    /// a refusal record.
    RefuseEntry {
        traveller: usize,
        check_id: String,
        refusal_codes: Vec<String>,
        text: String,
    },
    /// Regulation (EU) 2017/2226 Art. 35: the exit recorded for a traveller turned back did not
    /// happen, and is erased.
    WithdrawExit {
        traveller: usize,
        check_id: String,
        text: String,
    },
    /// UCC Art. 174: a declaration for goods that are not released is invalidated.
    InvalidateDeclaration {
        declaration_id: String,
        reason: String,
    },
    /// Regulation (EU) 2017/625 Art. 56: a health entry document serves one consignment that
    /// actually enters; one held for goods turned back is released.
    ReleaseAssessment {
        assessment_id: String,
        reason: String,
    },
}

impl Compensation {
    /// The saga step that records this action, unique within the crossing.
    pub fn step(&self) -> String {
        match self {
            Self::RefuseEntry { traveller, .. } | Self::WithdrawExit { traveller, .. } => {
                format!("compensate/identity/{traveller}")
            }
            Self::InvalidateDeclaration { .. } => "compensate/customs".into(),
            Self::ReleaseAssessment { .. } => "compensate/sanitary".into(),
        }
    }
}

/// Prefix of every compensating step's name.
pub const STEP_PREFIX: &str = "compensate/";

/// SBC Annex V Part B, code I: refusal on grounds of public policy, internal security or
/// public health, which is what a refusal of the goods or animals a traveller brings rests on.
const GOODS_REFUSED: &str = "I";
/// SBC Annex V Part B, code E: the conditions of entry were not shown, since the checks of an
/// abandoned or rejected crossing never finished.
const CHECKS_UNFINISHED: &str = "E";

/// The actions that undo what the agencies answered for a crossing, given why it is undone.
/// Records already in their final state (a check refused, a declaration invalidated, an
/// assessment released) need nothing.
pub fn plan(
    crossing_id: &str,
    direction: Direction,
    cause: Cause<'_>,
    checks: &[Option<CheckTravellerResponse>],
    declaration: Option<&Declaration>,
    assessment: Option<&Assessment>,
) -> Vec<Compensation> {
    let (refusal_codes, why) = match cause {
        Cause::Refused(decision) if !decision.refusal_codes.is_empty() => (
            decision.refusal_codes.clone(),
            format!("crossing {crossing_id} refused"),
        ),
        Cause::Refused(_) => (
            vec![GOODS_REFUSED.to_owned()],
            format!("crossing {crossing_id} refused"),
        ),
        Cause::Rejected => (
            vec![CHECKS_UNFINISHED.to_owned()],
            format!("crossing {crossing_id} rejected as invalid by an agency"),
        ),
        Cause::Abandoned => (
            vec![CHECKS_UNFINISHED.to_owned()],
            format!("crossing {crossing_id} abandoned before a decision"),
        ),
    };
    let mut plan = Vec::new();
    for (traveller, check) in checks.iter().enumerate() {
        let Some(check) = check.as_ref().and_then(|response| response.check.as_ref()) else {
            continue;
        };
        // A refused traveller entered or left nothing.
        if check.verdict() == Verdict::Refuse {
            continue;
        }
        let text = format!("{why}: turned back with the whole crossing");
        let check_id = check.check_id.clone();
        plan.push(match direction {
            Direction::Exit => Compensation::WithdrawExit {
                traveller,
                check_id,
                text,
            },
            _ => Compensation::RefuseEntry {
                traveller,
                check_id,
                refusal_codes: refusal_codes.clone(),
                text,
            },
        });
    }
    if let Some(declaration) = declaration
        && declaration.status() != DeclarationStatus::Invalidated
    {
        plan.push(Compensation::InvalidateDeclaration {
            declaration_id: declaration.declaration_id.clone(),
            reason: format!("{why}: the goods are not released"),
        });
    }
    if let Some(assessment) = assessment
        && assessment.status() != AssessmentStatus::Released
    {
        plan.push(Compensation::ReleaseAssessment {
            assessment_id: assessment.assessment_id.clone(),
            reason: format!("{why}: the consignments do not enter"),
        });
    }
    plan
}

#[cfg(test)]
mod tests {
    use bordermesh_proto::{crossing::v1::Outcome, identity::v1::TravellerCheck};

    use super::*;

    fn check(id: &str, verdict: Verdict) -> Option<CheckTravellerResponse> {
        Some(CheckTravellerResponse {
            check: Some(TravellerCheck {
                check_id: id.into(),
                verdict: verdict.into(),
                ..Default::default()
            }),
        })
    }

    #[test]
    fn ees_art_18_a_refused_crossing_turns_every_entry_into_a_refusal_and_undoes_goods() {
        let decision = Decision {
            outcome: Outcome::Refused.into(),
            refusal_codes: vec!["A".into()],
            ..Default::default()
        };
        let declaration = Declaration {
            declaration_id: "d-1".into(),
            status: DeclarationStatus::Lodged.into(),
            ..Default::default()
        };
        let assessment = Assessment {
            assessment_id: "a-1".into(),
            ..Default::default()
        };
        let plan = plan(
            "c-1",
            Direction::Entry,
            Cause::Refused(&decision),
            &[check("k-0", Verdict::Refuse), check("k-1", Verdict::Clear)],
            Some(&declaration),
            Some(&assessment),
        );
        let steps: Vec<String> = plan.iter().map(Compensation::step).collect();
        assert_eq!(
            steps,
            [
                "compensate/identity/1",
                "compensate/customs",
                "compensate/sanitary"
            ]
        );
        assert!(matches!(
            &plan[0],
            Compensation::RefuseEntry { check_id, refusal_codes, .. }
                if check_id == "k-1" && refusal_codes == &["A"]
        ));
    }

    #[test]
    fn sbc_annex_v_goods_refusals_and_abandonment_carry_their_own_codes() {
        let goods_refused = Decision {
            outcome: Outcome::Refused.into(),
            ..Default::default()
        };
        let codes = |cause| match plan(
            "c-1",
            Direction::Entry,
            cause,
            &[check("k-0", Verdict::Refer)],
            None,
            None,
        )
        .pop()
        {
            Some(Compensation::RefuseEntry { refusal_codes, .. }) => refusal_codes,
            other => panic!("{other:?}"),
        };
        assert_eq!(codes(Cause::Refused(&goods_refused)), ["I"]);
        assert_eq!(codes(Cause::Abandoned), ["E"]);
        assert_eq!(codes(Cause::Rejected), ["E"]);
    }

    #[test]
    fn records_already_undone_need_nothing() {
        let declaration = Declaration {
            declaration_id: "d-1".into(),
            status: DeclarationStatus::Invalidated.into(),
            ..Default::default()
        };
        let assessment = Assessment {
            assessment_id: "a-1".into(),
            status: AssessmentStatus::Released.into(),
            ..Default::default()
        };
        assert!(
            plan(
                "c-1",
                Direction::Entry,
                Cause::Abandoned,
                &[check("k-0", Verdict::Refuse), None],
                Some(&declaration),
                Some(&assessment),
            )
            .is_empty()
        );
    }

    #[test]
    fn ees_art_35_an_exit_turned_back_withdraws_each_recorded_exit() {
        let actions = plan(
            "c-1",
            Direction::Exit,
            Cause::Abandoned,
            &[
                check("k-0", Verdict::Clear),
                None,
                check("k-2", Verdict::Refer),
                check("k-3", Verdict::Refuse),
            ],
            None,
            None,
        );
        let text = "crossing c-1 abandoned before a decision: turned back with the whole crossing";
        assert_eq!(
            actions,
            [
                Compensation::WithdrawExit {
                    traveller: 0,
                    check_id: "k-0".into(),
                    text: text.into(),
                },
                Compensation::WithdrawExit {
                    traveller: 2,
                    check_id: "k-2".into(),
                    text: text.into(),
                },
            ]
        );
        assert_eq!(actions[1].step(), "compensate/identity/2");
    }
}
