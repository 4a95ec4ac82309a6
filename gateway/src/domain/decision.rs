//! One decision from every agency's findings. The strictest verdict wins: a refusal by any
//! agency refuses the crossing, a referral refers it to that agency's second line, conditions
//! (duties, documentary checks, licences) clear it with conditions. Customs' lane weighs in as
//! its selectivity module means it: RED holds the goods for a physical examination.

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use bordermesh_proto::{
    common::v1::{Agency, Money, Verdict},
    crossing::v1::{Decision, Finding, Outcome},
    customs::v1::{Declaration, Lane, ReferralKind},
};

/// The rule set this module is, and its version: bumped whenever a change here could change a
/// decision, so that a replay tells a changed rule from changed inputs.
pub const RULE_SET: &str = "bordermesh.gateway.decision";
pub const RULE_SET_VERSION: &str = "1";

/// SHA-256 over the length-prefixed inputs of a decision.
pub fn digest(inputs: &[Vec<u8>]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for input in inputs {
        hasher.update((input.len() as u64).to_be_bytes());
        hasher.update(input);
    }
    hex::encode(hasher.finalize())
}

fn severity(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Unspecified | Verdict::Clear => 0,
        Verdict::ClearWithConditions => 1,
        Verdict::Refer => 2,
        Verdict::Refuse => 3,
    }
}

fn verdict_of(finding: &Finding) -> Verdict {
    Verdict::try_from(finding.verdict).unwrap_or(Verdict::Unspecified)
}

fn agency_name(agency: Agency) -> &'static str {
    match agency {
        Agency::BorderPolice => "border police",
        Agency::Customs => "customs",
        Agency::Sanitary => "veterinary and phytosanitary inspection",
        Agency::Unspecified => "an agency",
    }
}

/// The verdict a customs lane asks for: RED refers the goods to customs' second line for a
/// physical examination, YELLOW clears them once a documentary check is done, BLUE (audit
/// after release) and GREEN hold nothing.
pub fn lane_verdict(lane: Lane) -> Verdict {
    match lane {
        Lane::Red => Verdict::Refer,
        Lane::Yellow => Verdict::ClearWithConditions,
        Lane::Blue | Lane::Green | Lane::Unspecified => Verdict::Clear,
    }
}

/// Customs' verdict on the goods: the stricter of the declaration's own and its lane's, until
/// the examination the lane asked for is recorded; then the declaration's own verdict, which
/// carries the examination's result (UCC Art. 188-189).
pub fn customs_verdict(declaration: &Declaration) -> Verdict {
    let own = Verdict::try_from(declaration.verdict).unwrap_or(Verdict::Unspecified);
    if declaration.examination.is_some() {
        return own;
    }
    let lane = lane_verdict(declaration.lane());
    if severity(lane) > severity(own) {
        lane
    } else {
        own
    }
}

/// What customs asks for before release besides payment: the documentary check of a YELLOW
/// lane, and the licence of every licence referral (CITES, dual-use).
pub fn customs_conditions(declaration: &Declaration) -> Vec<String> {
    let mut conditions = Vec::new();
    if declaration.lane() == Lane::Yellow {
        conditions.push(format!(
            "goods: documentary check by customs before release (risk rules {})",
            declaration.lane_rule_ids.join(", ")
        ));
    }
    conditions.extend(
        declaration
            .referrals
            .iter()
            .filter(|referral| referral.kind() == ReferralKind::Licence)
            .map(|referral| {
                format!(
                    "goods[{}]: present the {} licence for {} to customs",
                    referral.item_index, referral.document_type, referral.commodity_code
                )
            }),
    );
    conditions
}

/// Aggregates the findings of every agency; `amounts_due` are customs' totals and
/// `customs_conditions` what customs asks for besides payment.
pub fn decide(
    findings: Vec<Finding>,
    amounts_due: Vec<Money>,
    customs_conditions: Vec<String>,
) -> Decision {
    let worst = findings
        .iter()
        .map(verdict_of)
        .max_by_key(|v| severity(*v))
        .unwrap_or(Verdict::Clear);
    let outcome = match worst {
        Verdict::Refuse => Outcome::Refused,
        Verdict::Refer => Outcome::Referred,
        Verdict::ClearWithConditions => Outcome::ClearedWithConditions,
        Verdict::Clear | Verdict::Unspecified => Outcome::Cleared,
    };
    let agencies_with = |verdict: Verdict| -> Vec<Agency> {
        findings
            .iter()
            .filter(|f| verdict_of(f) == verdict)
            .filter_map(|f| Agency::try_from(f.agency).ok())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let referred_to = if outcome == Outcome::Referred {
        agencies_with(Verdict::Refer)
    } else {
        Vec::new()
    };
    let refusal_codes: Vec<String> = findings
        .iter()
        .filter(|f| verdict_of(f) == Verdict::Refuse)
        .flat_map(|f| f.reasons.iter())
        .map(|r| r.refusal_code.clone())
        .filter(|code| !code.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut conditions: Vec<String> = amounts_due
        .iter()
        .filter(|m| m.amount.parse::<Decimal>().is_ok_and(|v| v > Decimal::ZERO))
        .map(|m| format!("pay {} {} in duties and taxes", m.amount, m.currency_code))
        .collect();
    conditions.extend(customs_conditions);
    conditions.extend(
        findings
            .iter()
            .filter(|f| verdict_of(f) == Verdict::ClearWithConditions)
            .filter(|f| Agency::try_from(f.agency) == Ok(Agency::Sanitary))
            .map(|f| {
                format!(
                    "{}: release after the border control post's checks",
                    f.subject
                )
            }),
    );
    let explanation = explain(outcome, &findings, &referred_to, &refusal_codes);
    Decision {
        outcome: outcome.into(),
        findings,
        amounts_due,
        conditions,
        referred_to: referred_to.into_iter().map(Into::into).collect(),
        refusal_codes,
        explanation,
        ..Decision::default()
    }
}

fn explain(
    outcome: Outcome,
    findings: &[Finding],
    referred_to: &[Agency],
    refusal_codes: &[String],
) -> String {
    let worst_reasons = |verdict: Verdict| -> Vec<String> {
        findings
            .iter()
            .filter(|f| verdict_of(f) == verdict)
            .flat_map(|f| {
                f.reasons
                    .iter()
                    .map(move |r| format!("{} ({}: {})", r.message, f.subject, r.code))
            })
            .collect()
    };
    match outcome {
        Outcome::Refused => format!(
            "Refused (Annex V Part B code {}): {}.",
            refusal_codes.join(", "),
            worst_reasons(Verdict::Refuse).join("; ")
        ),
        Outcome::Referred => format!(
            "Referred to the second line of {}: {}.",
            referred_to
                .iter()
                .map(|a| agency_name(*a))
                .collect::<Vec<_>>()
                .join(" and "),
            worst_reasons(Verdict::Refer).join("; ")
        ),
        Outcome::ClearedWithConditions => format!(
            "Cleared with conditions: {}.",
            worst_reasons(Verdict::ClearWithConditions).join("; ")
        ),
        Outcome::Cleared | Outcome::Unspecified => {
            format!(
                "Cleared: {} checks found nothing to object.",
                findings.len()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use bordermesh_proto::common::v1::Reason;

    use super::*;

    fn finding(agency: Agency, verdict: Verdict, refusal_code: &str) -> Finding {
        Finding {
            agency: agency.into(),
            subject: "travellers[0]".into(),
            verdict: verdict.into(),
            reasons: vec![Reason {
                code: "X".into(),
                refusal_code: refusal_code.into(),
                ..Default::default()
            }],
            record_id: String::new(),
        }
    }

    fn eur(amount: &str) -> Money {
        Money {
            currency_code: "EUR".into(),
            amount: amount.into(),
        }
    }

    #[test]
    fn no_objection_clears() {
        let decision = decide(
            vec![finding(Agency::BorderPolice, Verdict::Clear, "")],
            vec![eur("0.00")],
            vec![],
        );
        assert_eq!(decision.outcome(), Outcome::Cleared);
        assert!(decision.conditions.is_empty());
    }

    #[test]
    fn duties_due_clear_with_conditions() {
        let decision = decide(
            vec![finding(Agency::Customs, Verdict::ClearWithConditions, "")],
            vec![eur("141.45")],
            vec![],
        );
        assert_eq!(decision.outcome(), Outcome::ClearedWithConditions);
        assert_eq!(decision.conditions, ["pay 141.45 EUR in duties and taxes"]);
    }

    #[test]
    fn a_referral_outranks_conditions_and_names_the_agency() {
        let decision = decide(
            vec![
                finding(Agency::Customs, Verdict::ClearWithConditions, ""),
                finding(Agency::Sanitary, Verdict::Refer, ""),
            ],
            vec![],
            vec![],
        );
        assert_eq!(decision.outcome(), Outcome::Referred);
        assert_eq!(decision.referred_to, [i32::from(Agency::Sanitary)]);
    }

    #[test]
    fn sbc_annex_v_part_b_a_refusal_outranks_everything_and_carries_its_codes() {
        let decision = decide(
            vec![
                finding(Agency::Sanitary, Verdict::Refer, ""),
                finding(Agency::BorderPolice, Verdict::Refuse, "A"),
            ],
            vec![],
            vec![],
        );
        assert_eq!(decision.outcome(), Outcome::Refused);
        assert_eq!(decision.refusal_codes, ["A"]);
        assert!(decision.referred_to.is_empty());
        assert!(
            decision
                .explanation
                .starts_with("Refused (Annex V Part B code A)")
        );
    }

    fn declaration(lane: Lane, verdict: Verdict) -> Declaration {
        Declaration {
            verdict: verdict.into(),
            lane: lane.into(),
            lane_rule_ids: vec!["RP-VEHICLES-01".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_red_lane_refers_the_goods_to_customs_second_line() {
        let red = declaration(Lane::Red, Verdict::ClearWithConditions);
        assert_eq!(customs_verdict(&red), Verdict::Refer);
        let decision = decide(
            vec![finding(Agency::Customs, customs_verdict(&red), "")],
            vec![eur("15.00")],
            customs_conditions(&red),
        );
        assert_eq!(decision.outcome(), Outcome::Referred);
        assert_eq!(decision.referred_to, [i32::from(Agency::Customs)]);
    }

    #[test]
    fn ucc_art_189_once_examined_the_declaration_speaks_for_the_red_lane() {
        let mut examined = declaration(Lane::Red, Verdict::ClearWithConditions);
        examined.examination = Some(bordermesh_proto::customs::v1::Examination {
            officer_id: "officer-7".into(),
            result: bordermesh_proto::customs::v1::ExaminationResult::Conform.into(),
            ..Default::default()
        });
        assert_eq!(customs_verdict(&examined), Verdict::ClearWithConditions);
        examined.verdict = Verdict::Refuse.into();
        assert_eq!(customs_verdict(&examined), Verdict::Refuse);
    }

    #[test]
    fn a_yellow_lane_sets_a_documentary_check_and_blue_or_green_hold_nothing() {
        let yellow = declaration(Lane::Yellow, Verdict::Clear);
        assert_eq!(customs_verdict(&yellow), Verdict::ClearWithConditions);
        let decision = decide(
            vec![finding(Agency::Customs, customs_verdict(&yellow), "")],
            vec![],
            customs_conditions(&yellow),
        );
        assert_eq!(decision.outcome(), Outcome::ClearedWithConditions);
        assert_eq!(
            decision.conditions,
            ["goods: documentary check by customs before release (risk rules RP-VEHICLES-01)"]
        );
        for lane in [Lane::Blue, Lane::Green] {
            let released = declaration(lane, Verdict::Clear);
            assert_eq!(customs_verdict(&released), Verdict::Clear);
            assert!(customs_conditions(&released).is_empty());
        }
    }

    #[test]
    fn a_licence_referral_becomes_a_condition_naming_the_item() {
        let mut cites = declaration(Lane::Green, Verdict::ClearWithConditions);
        cites
            .referrals
            .push(bordermesh_proto::customs::v1::Referral {
                agency: Agency::Customs.into(),
                item_index: 2,
                commodity_code: "960110".into(),
                document_type: "CITES".into(),
                reason: String::new(),
                kind: ReferralKind::Licence.into(),
            });
        assert_eq!(
            customs_conditions(&cites),
            ["goods[2]: present the CITES licence for 960110 to customs"]
        );
    }
}
