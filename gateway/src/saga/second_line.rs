//! What the second line recorded, as the follow-up read it from the agencies. The records are
//! logged in the saga beside the first line's answers, so that a decision the second line
//! changed is replayed from its inputs like any other.

use std::collections::{BTreeMap, HashMap};

use bordermesh_kit::storage::{decode_record, encode_record};
use bordermesh_proto::{
    common::v1::{self as common, Agency},
    crossing::v1 as pb,
    customs::v1 as customs,
    identity::v1 as identity,
    sanitary::v1 as sanitary,
};
use prost::Message;

use super::{amounts_due, traveller_index, with_subjects};
use crate::domain::decision;

const IDENTITY_STEP_PREFIX: &str = "second-line/identity/";
const CUSTOMS_STEP: &str = "second-line/customs";
const SANITARY_STEP_PREFIX: &str = "second-line/sanitary/";

/// The agencies' records that decide a referral.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct SecondLine {
    /// Traveller checks concluded by a second-line interview, by check id.
    pub checks: BTreeMap<String, identity::TravellerCheck>,
    /// The declaration once physically examined.
    pub declaration: Option<customs::Declaration>,
    /// Sanitary assessments as they stand after inspections, by assessment id.
    pub assessments: BTreeMap<String, sanitary::Assessment>,
}

impl SecondLine {
    /// The records a crossing's saga log holds.
    pub fn logged(saved: &HashMap<String, String>) -> anyhow::Result<Self> {
        let mut logged = Self::default();
        for (step, record) in saved {
            if let Some(check_id) = step.strip_prefix(IDENTITY_STEP_PREFIX) {
                logged
                    .checks
                    .insert(check_id.to_owned(), decode_record(record)?);
            } else if step == CUSTOMS_STEP {
                logged.declaration = Some(decode_record(record)?);
            } else if let Some(assessment_id) = step.strip_prefix(SANITARY_STEP_PREFIX) {
                logged
                    .assessments
                    .insert(assessment_id.to_owned(), decode_record(record)?);
            }
        }
        Ok(logged)
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty() && self.declaration.is_none() && self.assessments.is_empty()
    }

    /// `newer` records, read since, replace the logged ones they concern.
    pub fn merge(&mut self, newer: &SecondLine) {
        self.checks.extend(newer.checks.clone());
        if newer.declaration.is_some() {
            self.declaration.clone_from(&newer.declaration);
        }
        self.assessments.extend(newer.assessments.clone());
    }

    /// The saga log's steps for these records, with each record encoded.
    pub fn steps(&self) -> Vec<(String, String)> {
        let checks = self
            .checks
            .iter()
            .map(|(id, check)| (format!("{IDENTITY_STEP_PREFIX}{id}"), encode_record(check)));
        let declaration = self
            .declaration
            .iter()
            .map(|declaration| (CUSTOMS_STEP.to_owned(), encode_record(declaration)));
        let assessments = self.assessments.iter().map(|(id, assessment)| {
            (
                format!("{SANITARY_STEP_PREFIX}{id}"),
                encode_record(assessment),
            )
        });
        checks.chain(declaration).chain(assessments).collect()
    }

    /// The records as digest inputs, in a fixed order.
    fn inputs(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        let checks = self.checks.values().map(Message::encode_to_vec);
        let declaration = self.declaration.iter().map(Message::encode_to_vec);
        let assessments = self.assessments.values().map(Message::encode_to_vec);
        checks.chain(declaration).chain(assessments)
    }

    /// Referred findings take the verdict and reasons the second line recorded for them; other
    /// findings are final already.
    pub fn apply(&self, findings: &mut [pb::Finding]) {
        for finding in findings {
            if finding.verdict() != common::Verdict::Refer {
                continue;
            }
            match finding.agency() {
                Agency::BorderPolice => {
                    if let Some(check) = self.checks.get(&finding.record_id) {
                        finding.verdict = check.verdict;
                        finding.reasons =
                            with_subjects(check.reasons.clone(), traveller_index(&finding.subject));
                    }
                }
                Agency::Customs => {
                    if let Some(declaration) = self
                        .declaration
                        .as_ref()
                        .filter(|declaration| declaration.declaration_id == finding.record_id)
                    {
                        finding.verdict = decision::customs_verdict(declaration).into();
                        finding.reasons = with_subjects(declaration.reasons.clone(), None);
                    }
                }
                Agency::Sanitary => {
                    let consignment =
                        self.assessments
                            .get(&finding.record_id)
                            .and_then(|assessment| {
                                assessment
                                    .consignments
                                    .iter()
                                    .find(|consignment| consignment.subject == finding.subject)
                            });
                    if let Some(consignment) = consignment {
                        finding.verdict = consignment.verdict;
                        finding.reasons = consignment.reasons.clone();
                    }
                }
                Agency::Unspecified => {}
            }
        }
    }
}

/// The decision once the second line's records are applied to `decided` (the first line's, or
/// an earlier update of it). Duties follow the examined declaration, else the one the first line
/// assessed; the digest covers the first line's inputs and every second-line record.
pub(super) fn decide(
    decided: &pb::Decision,
    first_line_inputs: Vec<Vec<u8>>,
    first_line_declaration: Option<&customs::Declaration>,
    second_line: &SecondLine,
) -> pb::Decision {
    let mut findings = decided.findings.clone();
    second_line.apply(&mut findings);
    let (amounts, conditions) = match second_line.declaration.as_ref().or(first_line_declaration) {
        Some(declaration) => (
            amounts_due(declaration),
            decision::customs_conditions(declaration),
        ),
        None => (decided.amounts_due.clone(), Vec::new()),
    };
    let mut inputs = first_line_inputs;
    inputs.extend(second_line.inputs());
    pb::Decision {
        inputs_digest: decision::digest(&inputs),
        rule_sets: decided.rule_sets.clone(),
        ..decision::decide(findings, amounts, conditions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(
        agency: Agency,
        subject: &str,
        verdict: common::Verdict,
        record_id: &str,
    ) -> pb::Finding {
        pb::Finding {
            agency: agency.into(),
            subject: subject.into(),
            verdict: verdict.into(),
            reasons: Vec::new(),
            record_id: record_id.into(),
        }
    }

    fn interviewed(verdict: common::Verdict) -> identity::TravellerCheck {
        identity::TravellerCheck {
            check_id: "check-1".into(),
            verdict: verdict.into(),
            reasons: vec![common::Reason {
                code: "SECOND_LINE".into(),
                subject: "traveller".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn only_referred_findings_take_the_second_lines_verdict() {
        let mut second_line = SecondLine::default();
        second_line
            .checks
            .insert("check-1".into(), interviewed(common::Verdict::Refuse));
        second_line
            .checks
            .insert("check-0".into(), interviewed(common::Verdict::Refuse));
        let mut findings = vec![
            finding(
                Agency::BorderPolice,
                "travellers[0]",
                common::Verdict::Clear,
                "check-0",
            ),
            finding(
                Agency::BorderPolice,
                "travellers[1]",
                common::Verdict::Refer,
                "check-1",
            ),
            finding(
                Agency::Customs,
                "goods",
                common::Verdict::Refer,
                "declaration-1",
            ),
        ];
        second_line.apply(&mut findings);
        assert_eq!(findings[0].verdict(), common::Verdict::Clear);
        assert_eq!(findings[1].verdict(), common::Verdict::Refuse);
        assert_eq!(findings[1].reasons[0].subject, "travellers[1]");
        // Customs has not examined the goods yet: the referral stands.
        assert_eq!(findings[2].verdict(), common::Verdict::Refer);
    }

    #[test]
    fn later_readings_replace_logged_ones_and_log_under_stable_steps() {
        let mut logged = SecondLine::default();
        logged
            .checks
            .insert("check-1".into(), interviewed(common::Verdict::Refer));
        let mut newer = SecondLine::default();
        newer
            .checks
            .insert("check-1".into(), interviewed(common::Verdict::Clear));
        logged.merge(&newer);
        let steps = logged.steps();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].0, "second-line/identity/check-1");
        let saved: HashMap<String, String> = steps.into_iter().collect();
        assert_eq!(SecondLine::logged(&saved).unwrap(), newer);
    }
}
