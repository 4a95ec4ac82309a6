//! Which checks each consignment gets at the border control post (Regulation (EU) 2017/625
//! Art. 47-49): documentary checks always, identity and physical checks at the regime's
//! frequencies, drawn from a seed so that the selection can be replayed.

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::regime::{DocumentType, Regimes};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Clear,
    ClearWithConditions,
    Refer,
}

/// A consignment declared to the service, or goods customs referred.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Path of the subject in the caller's request, for reasons and replay.
    pub subject: String,
    pub commodity_code: String,
    /// Whether the operator pre-notified a health entry document (CHED Part I).
    pub pre_notified: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checks {
    pub documentary: bool,
    pub identity: bool,
    pub physical: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: String,
    pub rule_id: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsignmentDecision {
    pub subject: String,
    pub commodity_code: String,
    pub document_type: Option<DocumentType>,
    pub checks: Checks,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
}

/// A number in 0..10000 (basis points) drawn from the seed and the subject: the same inputs
/// always draw the same number, so a selection is replayed exactly on appeal.
pub fn draw(seed: &str, subject: &str) -> u32 {
    let digest = Sha256::digest(format!("{seed}\u{1f}{subject}"));
    let first = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    first % 10_000
}

fn selected(seed: &str, subject: &str, percent: Decimal) -> bool {
    Decimal::from(draw(seed, subject)) < percent * Decimal::ONE_HUNDRED
}

pub fn assess_one(subject: &Subject, regimes: &Regimes, seed: &str) -> ConsignmentDecision {
    let Some(regime) = regimes.for_code(&subject.commodity_code) else {
        return ConsignmentDecision {
            subject: subject.subject.clone(),
            commodity_code: subject.commodity_code.clone(),
            document_type: None,
            checks: Checks::default(),
            verdict: Verdict::Clear,
            findings: Vec::new(),
        };
    };
    let document = regime.document_type;
    let checks = Checks {
        // Art. 49(1): documentary checks on every consignment.
        documentary: true,
        identity: selected(
            seed,
            &format!("{}#identity", subject.subject),
            regime.identity_check_percent,
        ),
        physical: selected(
            seed,
            &format!("{}#physical", subject.subject),
            regime.physical_check_percent,
        ),
    };
    let mut findings = vec![Finding {
        code: format!("{}_REQUIRED", document.code()),
        rule_id: "REG-2017-625-ART-47",
        message: format!(
            "{} ({}) need a {} and official controls at the border control post: {}",
            regime.commodity_group,
            subject.commodity_code,
            document.name(),
            regime.legal_basis
        ),
    }];
    let verdict = if !subject.pre_notified {
        findings.push(Finding {
            code: "PRE_NOTIFICATION_MISSING".into(),
            rule_id: "REG-2017-625-ART-56",
            message: format!(
                "no {} Part I was pre-notified: the consignment is held for the border control post",
                document.name()
            ),
        });
        Verdict::Refer
    } else if checks.physical {
        findings.push(Finding {
            code: "PHYSICAL_CHECK_SELECTED".into(),
            rule_id: "REG-2019-2129-ART-3",
            message: format!(
                "selected for a physical check at a frequency of {} %",
                regime.physical_check_percent
            ),
        });
        Verdict::Refer
    } else {
        Verdict::ClearWithConditions
    };
    ConsignmentDecision {
        subject: subject.subject.clone(),
        commodity_code: subject.commodity_code.clone(),
        document_type: Some(document),
        checks,
        verdict,
        findings,
    }
}

pub fn assess(subjects: &[Subject], regimes: &Regimes, seed: &str) -> Vec<ConsignmentDecision> {
    subjects
        .iter()
        .map(|subject| assess_one(subject, regimes, seed))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(code: &str, pre_notified: bool) -> Subject {
        Subject {
            subject: "consignments[0]".into(),
            commodity_code: code.into(),
            pre_notified,
        }
    }

    #[test]
    fn regulation_2017_625_art_56_meat_without_pre_notification_is_held() {
        let regimes = Regimes::default_regimes().unwrap();
        let decision = assess_one(&subject("020230", false), &regimes, "seed");
        assert_eq!(decision.document_type, Some(DocumentType::ChedP));
        assert_eq!(decision.verdict, Verdict::Refer);
        assert!(decision.checks.documentary && decision.checks.identity);
        let codes: Vec<_> = decision.findings.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["CHED_P_REQUIRED", "PRE_NOTIFICATION_MISSING"]);
    }

    #[test]
    fn regulation_2019_2129_live_animals_are_physically_checked_every_time() {
        let regimes = Regimes::default_regimes().unwrap();
        for seed in ["a", "b", "c", "d"] {
            let decision = assess_one(&subject("010121", true), &regimes, seed);
            assert!(decision.checks.physical);
            assert_eq!(decision.verdict, Verdict::Refer);
        }
    }

    #[test]
    fn the_random_selection_is_replayable_and_near_its_rate() {
        let regimes = Regimes::default_regimes().unwrap();
        let physical = (0..4000)
            .filter(|i| {
                assess_one(&subject("020230", true), &regimes, &i.to_string())
                    .checks
                    .physical
            })
            .count();
        // 15 % of 4000 = 600; a binomial standard deviation is about 23.
        assert!((500..700).contains(&physical), "{physical}");
        let first = assess_one(&subject("020230", true), &regimes, "replay");
        assert_eq!(
            first,
            assess_one(&subject("020230", true), &regimes, "replay")
        );
    }

    #[test]
    fn goods_outside_sanitary_control_are_cleared_without_document() {
        let regimes = Regimes::default_regimes().unwrap();
        let decision = assess_one(&subject("847130", false), &regimes, "seed");
        assert_eq!(decision.verdict, Verdict::Clear);
        assert_eq!(decision.document_type, None);
    }
}
