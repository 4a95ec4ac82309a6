//! AssessConsignments: validation, the facts the rules need from the store (documents,
//! certificates, recent non-compliance), the domain assessment, and linking what was used.

use std::collections::{HashMap, HashSet};

use bordermesh_kit::{
    db::Tx,
    error::{self, FieldViolations},
    idempotency::{IdempotentCall, Start},
    storage::{new_record_id, now_millis},
    validate,
};
use bordermesh_proto::{common::v1 as common, sanitary::v1 as pb};
use chrono::NaiveDate;
use tonic::{Code, Status};

use super::{
    SanitaryApi,
    convert::{self, reason},
};
use crate::domain::{
    Rulebook,
    assessment::{
        self, CertificatePresentation, ChedPresentation, ConsignmentDecision, Context,
        PresentedChed, Subject, Verdict,
    },
    ched::Status as ChedStatus,
};

const ASSESS_CONSIGNMENTS: &str = "sanitary.AssessConsignments";

const MILLIS_PER_DAY: i64 = 86_400_000;

/// A subject as validated, before the store is consulted.
struct Draft {
    subject: Subject,
    ched_reference: Option<String>,
    certificate_id: Option<String>,
}

struct Command {
    crossing_point: String,
    day: Option<NaiveDate>,
    drafts: Vec<Draft>,
}

fn blank_subject(subject: String, commodity_code: String, origin_country: String) -> Subject {
    Subject {
        subject,
        commodity_code,
        species: None,
        species_group: None,
        origin_country,
        origin_region: None,
        quantity: None,
        ched: ChedPresentation::None,
        certificate: CertificatePresentation::None,
    }
}

fn consignment_draft(
    rules: &Rulebook,
    index: usize,
    consignment: &pb::Consignment,
    violations: &mut FieldViolations,
) -> Option<Draft> {
    let at = |field: &str| format!("consignments[{index}].{field}");
    let code = convert::commodity_code(
        &at("commodity_code"),
        &consignment.commodity_code,
        violations,
    );
    // A consignment is declared to this service because it is under its controls; customs'
    // referrals, by contrast, may name goods the service clears.
    if code
        .as_deref()
        .is_some_and(|code| !rules.regimes.is_controlled(code))
    {
        violations.add(
            at("commodity_code"),
            "is not a commodity under veterinary or phytosanitary border controls",
        );
    }
    let origin = validate::country(
        &at("origin_country"),
        &consignment.origin_country,
        violations,
    );
    let species = convert::species(
        rules,
        &at("species"),
        &consignment.species,
        code.as_deref(),
        violations,
    );
    let region = convert::region(&at("origin_region"), &consignment.origin_region, violations);
    let quantity = consignment
        .quantity
        .as_ref()
        .and_then(|quantity| convert::quantity(&at("quantity"), Some(quantity), violations));
    if !consignment.net_mass_kg.is_empty() {
        validate::positive_decimal(&at("net_mass_kg"), &consignment.net_mass_kg, violations);
    }
    let certificate_id = convert::optional_text(
        &at("phytosanitary_certificate_id"),
        &consignment.phytosanitary_certificate_id,
        violations,
    );
    if certificate_id.is_some() && consignment.species.trim().is_empty() {
        violations.add(
            at("species"),
            "is required with a phytosanitary certificate: the botanical name is checked against it",
        );
    }
    let ched_reference = convert::optional_text(
        &at("ched_reference"),
        &consignment.ched_reference,
        violations,
    );
    let mut subject = blank_subject(format!("consignments[{index}]"), code?, origin?);
    subject.species = species.map(|s| s.scientific_name.clone());
    subject.species_group = species.map(|s| s.group.clone());
    subject.origin_region = region;
    subject.quantity = quantity;
    Some(Draft {
        subject,
        ched_reference,
        certificate_id,
    })
}

impl Command {
    fn parse(request: &pb::AssessConsignmentsRequest, rules: &Rulebook) -> Result<Self, Status> {
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let crossing_point = match &request.crossing_point {
            Some(point) => {
                validate::country("crossing_point.country", &point.country, &mut violations);
                validate::required_text("crossing_point.code", &point.code, &mut violations)
                    .map(str::to_owned)
            }
            None => {
                violations.add("crossing_point", "is required");
                None
            }
        };
        validate::required_enum::<common::Direction>(
            "direction",
            request.direction,
            &mut violations,
        );
        let day = convert::optional_date(
            "crossing_date",
            request.crossing_date.as_ref(),
            &mut violations,
        );
        if request.consignments.is_empty() && request.referrals.is_empty() {
            violations.add(
                "consignments",
                "at least one consignment or referral is required",
            );
        }
        let mut drafts = Vec::new();
        for (index, consignment) in request.consignments.iter().enumerate() {
            drafts.extend(consignment_draft(
                rules,
                index,
                consignment,
                &mut violations,
            ));
        }
        for (index, referral) in request.referrals.iter().enumerate() {
            let at = |field: &str| format!("referrals[{index}].{field}");
            let code = convert::commodity_code(
                &at("commodity_code"),
                &referral.commodity_code,
                &mut violations,
            );
            validate::required_text(&at("subject"), &referral.subject, &mut violations);
            if !referral.origin_country.is_empty() {
                validate::country(
                    &at("origin_country"),
                    &referral.origin_country,
                    &mut violations,
                );
            }
            // Goods the operator also declared as a consignment are assessed once, as that.
            let declared = request
                .consignments
                .iter()
                .any(|c| c.commodity_code == referral.commodity_code);
            if let Some(code) = code.filter(|_| !declared) {
                drafts.push(Draft {
                    subject: blank_subject(
                        referral.subject.clone(),
                        code,
                        referral.origin_country.clone(),
                    ),
                    ched_reference: None,
                    certificate_id: None,
                });
            }
        }
        let crossing_point = violations.into_result(crossing_point)?.unwrap_or_default();
        Ok(Self {
            crossing_point,
            day,
            drafts,
        })
    }
}

/// The domain view of a stored document.
pub(super) fn presented_ched(ched: &pb::Ched) -> Option<PresentedChed> {
    let part_i = ched.part_i.as_ref()?;
    Some(PresentedChed {
        reference: ched.reference.clone(),
        status: convert::status_from_proto(ched.status)?,
        document_type: convert::document_from_proto(ched.document_type)?,
        commodity_code: part_i.commodity_code.clone(),
        origin_country: part_i.origin_country.clone(),
        late_pre_notification: ched.late_pre_notification,
    })
}

fn decision_to_proto(decision: &ConsignmentDecision, seed: &str) -> pb::ConsignmentAssessment {
    let selection = &decision.selection;
    pb::ConsignmentAssessment {
        subject: decision.subject.clone(),
        commodity_code: decision.commodity_code.clone(),
        document_type: convert::document_to_proto(decision.document_type).into(),
        checks: Some(pb::Checks {
            documentary: decision.checks.documentary,
            identity: decision.checks.identity,
            physical: decision.checks.physical,
        }),
        verdict: convert::verdict_to_proto(decision.verdict).into(),
        reasons: decision
            .findings
            .iter()
            .map(|finding| reason(finding, &decision.subject))
            .collect(),
        ched_reference: decision.links_ched.clone().unwrap_or_default(),
        selection: decision.document_type.map(|_| pb::CheckSelection {
            seed: seed.to_owned(),
            identity_draw: selection.identity_draw,
            identity_rate_percent: selection.identity_rate.to_string(),
            physical_draw: selection.physical_draw,
            physical_rate_percent: selection.physical_rate.to_string(),
            laboratory_draw: selection.laboratory_draw,
            laboratory_rate_percent: selection.laboratory_rate.to_string(),
            rate_basis: selection.rate_basis.clone(),
        }),
        laboratory: decision.document_type.map(|_| pb::LaboratorySampling {
            sampled: decision.laboratory.sampled,
            reason: decision.laboratory.reason.clone(),
        }),
        decision: None,
        phytosanitary_certificate_id: decision.links_certificate.clone().unwrap_or_default(),
    }
}

fn conflict(what: &str) -> Status {
    error::status(
        Code::Aborted,
        "CONCURRENT_USE",
        format!("{what} was used by a concurrent assessment; retry the request"),
    )
}

impl SanitaryApi {
    /// Looks up the documents and certificates the drafts name. A reference named twice in
    /// one request counts as used by its first consignment.
    async fn presentations(&self, tx: &mut Tx, drafts: &mut [Draft]) -> Result<(), Status> {
        let mut cheds_seen: HashSet<String> = HashSet::new();
        let mut certificates_seen: HashMap<String, String> = HashMap::new();
        for draft in drafts.iter_mut() {
            if let Some(reference) = &draft.ched_reference {
                let stored = self
                    .store
                    .get_ched_for_update(tx, reference)
                    .await
                    .map_err(|e| error::internal("reading a CHED", e))?;
                draft.subject.ched = match stored.as_ref().and_then(presented_ched) {
                    None => ChedPresentation::Unknown(reference.clone()),
                    Some(mut presented) => {
                        if !cheds_seen.insert(reference.clone()) {
                            presented.status = ChedStatus::InProgress;
                        }
                        ChedPresentation::Found(presented)
                    }
                };
                if let Some(part_i) = stored.as_ref().and_then(|ched| ched.part_i.as_ref()) {
                    self.complete_from_part_i(draft, part_i);
                }
            }
            if let Some(id) = &draft.certificate_id {
                let stored = self
                    .store
                    .get_certificate_in(tx, id)
                    .await
                    .map_err(|e| error::internal("reading a certificate", e))?;
                draft.subject.certificate = match stored {
                    None => CertificatePresentation::Unknown(id.clone()),
                    Some(stored) => CertificatePresentation::Found {
                        certificate: convert::certificate_to_domain(&stored.certificate),
                        used_by: stored
                            .used_by_subject
                            .map(|subject| {
                                format!(
                                    "{subject} of assessment {}",
                                    stored.used_by_assessment.unwrap_or_default()
                                )
                            })
                            .or_else(|| certificates_seen.get(id).cloned()),
                    },
                };
                certificates_seen
                    .entry(id.clone())
                    .or_insert_with(|| draft.subject.subject.clone());
            }
        }
        Ok(())
    }

    /// What the consignment leaves out, Part I of its CHED says: the species and the
    /// phytosanitary certificate pre-notified with it.
    fn complete_from_part_i(&self, draft: &mut Draft, part_i: &pb::ChedPartI) {
        if draft.subject.species.is_none()
            && let Some(species) = self.rules.species.find(&part_i.species)
        {
            draft.subject.species = Some(species.scientific_name.clone());
            draft.subject.species_group = Some(species.group.clone());
        }
        if draft.certificate_id.is_none() && !part_i.phytosanitary_certificate_id.is_empty() {
            draft.certificate_id = Some(part_i.phytosanitary_certificate_id.clone());
        }
    }

    /// Regulation (EU) 2019/2129 Art. 8: whether the origin's recent results for this
    /// commodity group are above the configured threshold.
    async fn non_compliance_high(&self, tx: &mut Tx, subject: &Subject) -> Result<bool, Status> {
        let Some(regime) = self.rules.regimes.resolve(
            &subject.commodity_code,
            subject.species_group.as_deref(),
            &subject.origin_country,
        ) else {
            return Ok(false);
        };
        if subject.origin_country.is_empty() {
            return Ok(false);
        }
        let policy = &self.rules.policy;
        let since = now_millis() - i64::from(policy.non_compliance_window_days) * MILLIS_PER_DAY;
        let count = self
            .store
            .compliance_since(tx, &subject.origin_country, &regime.commodity_group, since)
            .await
            .map_err(|e| error::internal("counting inspection results", e))?;
        Ok(policy.is_non_compliance_high(count.non_compliant, count.total))
    }

    pub(super) async fn assess(
        &self,
        request: pb::AssessConsignmentsRequest,
    ) -> Result<pb::AssessConsignmentsResponse, Status> {
        let mut command = Command::parse(&request, &self.rules)?;
        let call = IdempotentCall::new(ASSESS_CONSIGNMENTS, &request.request_id, &request);
        // The lookups run in the transaction of the writes, on one connection: a repeat is
        // answered before them, as they would see its own links and call them conflicts.
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(saved),
            Start::Fresh(tx) => tx,
        };
        self.presentations(&mut tx, &mut command.drafts).await?;
        let context = Context {
            rules: &self.rules,
            // The request id seeds the check selection: the same request replays the same draw.
            seed: &request.request_id,
            day: command.day.unwrap_or_else(super::today),
        };
        let mut decisions = Vec::new();
        for draft in &command.drafts {
            let high = self.non_compliance_high(&mut tx, &draft.subject).await?;
            let decision = assessment::assess_one(&draft.subject, &context, high);
            let selection = &decision.selection;
            tracing::info!(
                seed = %request.request_id,
                subject = %decision.subject,
                identity_draw = selection.identity_draw,
                identity_rate = %selection.identity_rate,
                physical_draw = selection.physical_draw,
                physical_rate = %selection.physical_rate,
                laboratory_draw = selection.laboratory_draw,
                laboratory_sampled = decision.laboratory.sampled,
                "checks drawn"
            );
            decisions.push(decision);
        }
        let verdict = decisions
            .iter()
            .map(|d| d.verdict)
            .max()
            .unwrap_or(Verdict::Clear);
        let record = pb::Assessment {
            assessment_id: new_record_id().to_string(),
            verdict: convert::verdict_to_proto(verdict).into(),
            consignments: decisions
                .iter()
                .map(|d| decision_to_proto(d, &request.request_id))
                .collect(),
            seed: request.request_id.clone(),
            status: pb::AssessmentStatus::Assessed.into(),
            ..Default::default()
        };
        self.store
            .insert_assessment(&mut tx, &command.crossing_point, &record)
            .await
            .map_err(|e| error::internal("recording an assessment", e))?;
        for decision in &decisions {
            if let Some(reference) = &decision.links_ched {
                self.link_ched(&mut tx, reference, &record.assessment_id, &decision.subject)
                    .await?;
            }
            if let Some(id) = &decision.links_certificate {
                let marked = self
                    .store
                    .mark_certificate_used(&mut tx, id, &record.assessment_id, &decision.subject)
                    .await
                    .map_err(|e| error::internal("marking a certificate used", e))?;
                if !marked {
                    return Err(conflict("the phytosanitary certificate"));
                }
            }
        }
        tracing::info!(
            assessment_id = %record.assessment_id,
            subjects = decisions.len(),
            seed = %request.request_id,
            "consignments assessed"
        );
        let response = pb::AssessConsignmentsResponse {
            assessment: Some(record),
        };
        call.commit(self.store.db(), tx, response).await
    }

    /// Presents a new CHED with a consignment: it moves to in progress, linked to this one.
    async fn link_ched(
        &self,
        tx: &mut Tx,
        reference: &str,
        assessment_id: &str,
        subject: &str,
    ) -> Result<(), Status> {
        let mut ched = self
            .store
            .get_ched_for_update(tx, reference)
            .await
            .map_err(|e| error::internal("reading a CHED", e))?
            .ok_or_else(|| conflict("the health entry document"))?;
        ched.status = convert::status_to_proto(ChedStatus::InProgress).into();
        ched.assessment_id = assessment_id.to_owned();
        ched.subject = subject.to_owned();
        let linked = self
            .store
            .update_ched(tx, &ched, pb::ChedStatus::New)
            .await
            .map_err(|e| error::internal("linking a CHED", e))?;
        if linked {
            Ok(())
        } else {
            Err(conflict("the health entry document"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_without_species_and_a_negative_quantity_are_both_named() {
        let rules = Rulebook::default_rules().unwrap();
        let request = pb::AssessConsignmentsRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            crossing_point: Some(common::CrossingPoint {
                code: "HR-BAJAKOVO".into(),
                country: "HRV".into(),
            }),
            direction: common::Direction::Entry.into(),
            consignments: vec![pb::Consignment {
                commodity_code: "080510".into(),
                origin_country: "ZAF".into(),
                phytosanitary_certificate_id: "ZA-1".into(),
                quantity: Some(common::Quantity {
                    value: "-5".into(),
                    unit: "KGM".into(),
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let status = match Command::parse(&request, &rules) {
            Err(status) => status,
            Ok(_) => panic!("bad input was accepted"),
        };
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().contains("2 invalid fields"),
            "{}",
            status.message()
        );
    }
}
