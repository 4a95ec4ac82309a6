//! Which checks each consignment gets at the border control post (Regulation (EU) 2017/625
//! Art. 47-49): documentary checks always, identity and physical checks at the regime's
//! frequencies, drawn from a seed so that the selection can be replayed; the health entry
//! document presented, disease restrictions and the phytosanitary certificate decide the verdict.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::{
    Rulebook,
    ched::Status,
    ephyto::{self, Certificate, Measured, Presented},
    regime::{ControlRegime, DocumentType},
    restrictions::RestrictionMatch,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Clear,
    ClearWithConditions,
    Refer,
    Refuse,
}

/// A health entry document as the assessment sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedChed {
    pub reference: String,
    pub status: Status,
    pub document_type: DocumentType,
    pub commodity_code: String,
    pub origin_country: String,
    pub late_pre_notification: bool,
}

/// What the operator presented as the consignment's CHED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChedPresentation {
    None,
    /// A reference that no pre-notification has.
    Unknown(String),
    Found(PresentedChed),
}

/// What the operator presented as the consignment's phytosanitary certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificatePresentation {
    None,
    Unknown(String),
    Found {
        certificate: Certificate,
        /// The consignment that already presented it, if any.
        used_by: Option<String>,
    },
}

/// A consignment declared to the service, or goods customs referred.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Path of the subject in the caller's request, for reasons and replay.
    pub subject: String,
    pub commodity_code: String,
    /// Scientific name, when declared.
    pub species: Option<String>,
    pub species_group: Option<String>,
    /// Empty when customs did not know the origin.
    pub origin_country: String,
    pub origin_region: Option<String>,
    pub quantity: Option<Measured>,
    pub ched: ChedPresentation,
    pub certificate: CertificatePresentation,
}

/// Facts about the world the rules need, looked up before the assessment.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub rules: &'a Rulebook,
    /// Seed of the random selection (the request id).
    pub seed: &'a str,
    /// Day of the crossing.
    pub day: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checks {
    pub documentary: bool,
    pub identity: bool,
    pub physical: bool,
}

/// The seeded draw behind the checks, recorded so that it can be replayed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    pub identity_draw: u32,
    pub identity_rate: Decimal,
    pub physical_draw: u32,
    pub physical_rate: Decimal,
    pub laboratory_draw: u32,
    pub laboratory_rate: Decimal,
    pub rate_basis: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Laboratory {
    pub sampled: bool,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: String,
    pub rule_id: String,
    pub message: String,
    /// The verdict this finding alone calls for.
    pub verdict: Verdict,
}

impl Finding {
    fn new(code: &str, rule_id: &str, message: String, verdict: Verdict) -> Self {
        Self {
            code: code.to_owned(),
            rule_id: rule_id.to_owned(),
            message,
            verdict,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsignmentDecision {
    pub subject: String,
    pub commodity_code: String,
    pub document_type: Option<DocumentType>,
    pub checks: Checks,
    pub selection: Selection,
    pub laboratory: Laboratory,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    /// The CHED to link to this consignment: presented and acceptable.
    pub links_ched: Option<String>,
    /// The phytosanitary certificate to mark used by this consignment.
    pub links_certificate: Option<String>,
}

/// A number in 0..10000 (basis points) drawn from the seed and the subject: the same inputs
/// always draw the same number, so a selection is replayed exactly on appeal.
pub fn draw(seed: &str, subject: &str) -> u32 {
    let digest = Sha256::digest(format!("{seed}\u{1f}{subject}"));
    let first = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    first % 10_000
}

fn selected(draw: u32, percent: Decimal) -> bool {
    Decimal::from(draw) < percent * Decimal::ONE_HUNDRED
}

/// Regulation (EU) 2019/2129 Art. 3-8: the rates for this consignment, raised for an origin
/// whose recent non-compliance is high.
fn rates(regime: &ControlRegime, non_compliance_high: bool, context: &Context<'_>) -> Selection {
    let mut selection = Selection {
        identity_rate: regime.identity_check_percent,
        physical_rate: regime.physical_check_percent,
        laboratory_rate: regime.laboratory_percent,
        rate_basis: regime.rate_basis.clone(),
        ..Selection::default()
    };
    let increased = context.rules.policy.increased_physical_check_percent;
    if non_compliance_high && increased > selection.physical_rate {
        selection.physical_rate = increased;
        selection.rate_basis = format!(
            "{}; raised to {increased} % for the origin's recent non-compliance (Regulation (EU) 2019/2129 Art. 8)",
            selection.rate_basis
        );
    }
    selection
}

/// Regulation (EU) 2017/625 Art. 34 and 49(2): a sample goes to the laboratory with a physical
/// check, always for the hazard of increased controls or an origin under reinforced checks,
/// otherwise at the monitoring rate.
fn laboratory(
    regime: &ControlRegime,
    selection: &Selection,
    physical: bool,
    non_compliance_high: bool,
) -> Laboratory {
    let (sampled, reason) = if !physical {
        (
            false,
            "no physical check was selected, so no sample is taken".to_owned(),
        )
    } else if let Some(hazard) = &regime.hazard {
        (
            true,
            format!(
                "sample for {hazard} under increased controls: Implementing Regulation (EU) 2019/1793 Art. 8"
            ),
        )
    } else if non_compliance_high {
        (
            true,
            "sample because the origin's recent checks found non-compliance above the threshold: Regulation (EU) 2019/2129 Art. 8".to_owned(),
        )
    } else if selected(selection.laboratory_draw, selection.laboratory_rate) {
        (
            true,
            format!(
                "monitoring sample drawn at {} %: Regulation (EU) 2017/625 Art. 34",
                selection.laboratory_rate
            ),
        )
    } else {
        (
            false,
            format!(
                "not drawn for monitoring at {} %",
                selection.laboratory_rate
            ),
        )
    };
    Laboratory { sampled, reason }
}

/// Implementing Regulation (EU) 2019/1715 Art. 39-41: why a CHED cannot cover goods of
/// `commodity_code` from `origin` needing `document` (an empty origin is not compared).
pub fn presentation_problems(
    presented: &PresentedChed,
    document: DocumentType,
    commodity_code: &str,
    origin: &str,
) -> Vec<Finding> {
    let mut problems = Vec::new();
    let reference = &presented.reference;
    let rule = "REG-2019-1715-ART-39";
    match presented.status {
        Status::New => {}
        Status::Cancelled => problems.push(Finding::new(
            "CHED_CANCELLED",
            rule,
            format!("{reference} was cancelled and cannot cover a consignment"),
            Verdict::Refuse,
        )),
        status => problems.push(Finding::new(
            "CHED_ALREADY_USED",
            rule,
            format!(
                "{reference} is {} with another consignment: a health entry document serves one consignment",
                status.name()
            ),
            Verdict::Refuse,
        )),
    }
    if presented.document_type != document {
        problems.push(Finding::new(
            "CHED_TYPE_MISMATCH",
            rule,
            format!(
                "{reference} is a {}, the consignment needs a {}",
                presented.document_type.name(),
                document.name()
            ),
            Verdict::Refuse,
        ));
    }
    // The HS subheading (six digits) identifies the commodity across national subdivisions.
    let subheading = |code: &str| code.get(..6).map(str::to_owned).unwrap_or_default();
    if subheading(&presented.commodity_code) != subheading(commodity_code) {
        problems.push(Finding::new(
            "CHED_COMMODITY_MISMATCH",
            rule,
            format!(
                "{reference} pre-notified commodity {}, the consignment is {commodity_code}",
                presented.commodity_code
            ),
            Verdict::Refuse,
        ));
    }
    if !origin.is_empty() && presented.origin_country != origin {
        problems.push(Finding::new(
            "CHED_ORIGIN_MISMATCH",
            rule,
            format!(
                "{reference} pre-notified origin {}, the consignment comes from {origin}",
                presented.origin_country
            ),
            Verdict::Refuse,
        ));
    }
    problems
}

/// What the presented CHED says about the consignment (Regulation (EU) 2017/625 Art. 56;
/// Implementing Regulation (EU) 2019/1715 Art. 39-41).
fn ched_findings(
    subject: &Subject,
    document: DocumentType,
    findings: &mut Vec<Finding>,
) -> Option<String> {
    let presented = match &subject.ched {
        ChedPresentation::None => {
            findings.push(Finding::new(
                "PRE_NOTIFICATION_MISSING",
                "REG-2017-625-ART-56",
                format!(
                    "no {} Part I was pre-notified: the consignment is held for the border control post",
                    document.name()
                ),
                Verdict::Refer,
            ));
            return None;
        }
        ChedPresentation::Unknown(reference) => {
            findings.push(Finding::new(
                "CHED_NOT_FOUND",
                "REG-2017-625-ART-56",
                format!("no health entry document {reference} was pre-notified: the consignment is held for the border control post"),
                Verdict::Refer,
            ));
            return None;
        }
        ChedPresentation::Found(presented) => presented,
    };
    let reference = &presented.reference;
    let problems = presentation_problems(
        presented,
        document,
        &subject.commodity_code,
        &subject.origin_country,
    );
    if !problems.is_empty() {
        findings.extend(problems);
        return None;
    }
    if presented.late_pre_notification {
        findings.push(Finding::new(
            "PRE_NOTIFICATION_LATE",
            "REG-2019-1666-ART-1",
            format!("{reference} Part I was submitted later than one working day before the expected arrival"),
            Verdict::Refer,
        ));
    }
    Some(reference.clone())
}

/// Regulation (EU) 2016/2031 Art. 71-72: plants and plant products enter with a phytosanitary
/// certificate that covers them.
fn certificate_findings(
    subject: &Subject,
    context: &Context<'_>,
    findings: &mut Vec<Finding>,
) -> Option<String> {
    match &subject.certificate {
        CertificatePresentation::None => {
            findings.push(Finding::new(
                "PHYTO_CERTIFICATE_MISSING",
                "REG-2016-2031-ART-72",
                "no phytosanitary certificate was presented for plants or plant products".into(),
                Verdict::Refer,
            ));
            None
        }
        CertificatePresentation::Unknown(id) => {
            findings.push(Finding::new(
                "PHYTO_CERTIFICATE_NOT_FOUND",
                "REG-2016-2031-ART-72",
                format!("phytosanitary certificate {id} was not received through the ePhyto hub"),
                Verdict::Refer,
            ));
            None
        }
        CertificatePresentation::Found {
            certificate,
            used_by,
        } => {
            let presented = Presented {
                botanical_name: subject.species.as_deref(),
                origin_country: &subject.origin_country,
                commodity_code: &subject.commodity_code,
                quantity: subject.quantity.as_ref(),
                day: context.day,
                already_used_by: used_by.as_deref(),
            };
            let problems = ephyto::check(
                certificate,
                &presented,
                &context.rules.pests,
                &context.rules.policy,
            );
            let accepted = problems.is_empty();
            findings.extend(problems);
            accepted.then(|| certificate.certificate_id.clone())
        }
    }
}

/// Disease restrictions by origin (Regulation (EU) 2016/429 Art. 230): a restricted origin is
/// refused with the rule named.
fn restriction_findings(subject: &Subject, context: &Context<'_>, findings: &mut Vec<Finding>) {
    if subject.origin_country.is_empty() {
        return;
    }
    match context.rules.restrictions.applicable(
        &subject.origin_country,
        subject.origin_region.as_deref(),
        &subject.commodity_code,
        context.day,
    ) {
        None => {}
        Some(RestrictionMatch::Restricted(rule)) => findings.push(Finding::new(
            "DISEASE_RESTRICTION",
            &rule.rule_id,
            format!(
                "{} from {}{} may not enter: {} restriction {} ({})",
                subject.commodity_code,
                subject.origin_country,
                if rule.origin_region.is_empty() {
                    String::new()
                } else {
                    format!(" region {}", rule.origin_region)
                },
                rule.disease,
                rule.rule_id,
                rule.legal_basis
            ),
            Verdict::Refuse,
        )),
        Some(RestrictionMatch::RegionUnknown(rule)) => findings.push(Finding::new(
            "ORIGIN_REGION_REQUIRED",
            &rule.rule_id,
            format!(
                "region {} of {} is under {} restriction {}: the consignment must name its region of origin",
                rule.origin_region, rule.origin_country, rule.disease, rule.rule_id
            ),
            Verdict::Refer,
        )),
    }
}

/// Assesses one subject. `non_compliance_high` says whether the origin's recent inspection
/// results for this commodity group are above the configured threshold.
pub fn assess_one(
    subject: &Subject,
    context: &Context<'_>,
    non_compliance_high: bool,
) -> ConsignmentDecision {
    let Some(regime) = context.rules.regimes.resolve(
        &subject.commodity_code,
        subject.species_group.as_deref(),
        &subject.origin_country,
    ) else {
        return ConsignmentDecision {
            subject: subject.subject.clone(),
            commodity_code: subject.commodity_code.clone(),
            document_type: None,
            checks: Checks::default(),
            selection: Selection::default(),
            laboratory: Laboratory::default(),
            verdict: Verdict::Clear,
            findings: Vec::new(),
            links_ched: None,
            links_certificate: None,
        };
    };
    let document = regime.document_type;
    let mut selection = rates(&regime, non_compliance_high, context);
    selection.identity_draw = draw(context.seed, &format!("{}#identity", subject.subject));
    selection.physical_draw = draw(context.seed, &format!("{}#physical", subject.subject));
    selection.laboratory_draw = draw(context.seed, &format!("{}#laboratory", subject.subject));
    let checks = Checks {
        // Art. 49(1): documentary checks on every consignment.
        documentary: true,
        identity: selected(selection.identity_draw, selection.identity_rate),
        physical: selected(selection.physical_draw, selection.physical_rate),
    };
    let laboratory = laboratory(&regime, &selection, checks.physical, non_compliance_high);
    let mut findings = vec![Finding::new(
        &format!("{}_REQUIRED", document.code()),
        "REG-2017-625-ART-47",
        format!(
            "{} ({}) need a {} and official controls at the border control post: {}",
            regime.commodity_group,
            subject.commodity_code,
            document.name(),
            regime.legal_basis
        ),
        Verdict::ClearWithConditions,
    )];
    restriction_findings(subject, context, &mut findings);
    let links_ched = ched_findings(subject, document, &mut findings);
    let links_certificate = (document == DocumentType::ChedPp)
        .then(|| certificate_findings(subject, context, &mut findings))
        .flatten();
    if links_ched.is_some() && checks.physical {
        findings.push(Finding::new(
            "PHYSICAL_CHECK_SELECTED",
            "REG-2019-2129-ART-3",
            format!(
                "selected for a physical check at a frequency of {} %",
                selection.physical_rate
            ),
            Verdict::Refer,
        ));
    }
    if links_ched.is_some() && laboratory.sampled {
        findings.push(Finding::new(
            "LABORATORY_SAMPLING",
            "REG-2017-625-ART-34",
            laboratory.reason.clone(),
            Verdict::Refer,
        ));
    }
    let verdict = findings
        .iter()
        .map(|f| f.verdict)
        .max()
        .unwrap_or(Verdict::ClearWithConditions);
    // A refused consignment does not enter, so it uses neither its CHED nor its certificate;
    // a certificate is used together with the CHED of the consignment it covers, so that a
    // consignment held for its missing pre-notification can present it again.
    let (links_ched, links_certificate) = if verdict == Verdict::Refuse {
        (None, None)
    } else {
        let certificate = links_certificate.filter(|_| links_ched.is_some());
        (links_ched, certificate)
    };
    ConsignmentDecision {
        subject: subject.subject.clone(),
        commodity_code: subject.commodity_code.clone(),
        document_type: Some(document),
        checks,
        selection,
        laboratory,
        verdict,
        findings,
        links_ched,
        links_certificate,
    }
}

/// Regulation (EU) 2017/625 Art. 55 and 66: the inspector's result becomes the decision on the
/// consignment: compliant goods are released, non-compliant ones are refused with the measure.
pub fn decision_finding(compliant: bool, measure: Option<&str>, reference: &str) -> Finding {
    if compliant {
        Finding::new(
            "INSPECTION_COMPLIANT",
            "REG-2017-625-ART-55",
            format!("the checks on {reference} found the consignment compliant: it may enter"),
            Verdict::Clear,
        )
    } else {
        Finding::new(
            "INSPECTION_NON_COMPLIANT",
            "REG-2017-625-ART-66",
            format!(
                "the checks on {reference} found the consignment non-compliant; measure ordered: {}",
                measure.unwrap_or("to be decided")
            ),
            Verdict::Refuse,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rulebook {
        Rulebook::default_rules().unwrap()
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 7, 15).unwrap()
    }

    fn context<'a>(rules: &'a Rulebook, seed: &'a str) -> Context<'a> {
        Context {
            rules,
            seed,
            day: day(),
        }
    }

    fn ched(reference: &str, status: Status, code: &str, origin: &str) -> ChedPresentation {
        ChedPresentation::Found(PresentedChed {
            reference: reference.into(),
            status,
            document_type: DocumentType::ChedP,
            commodity_code: code.into(),
            origin_country: origin.into(),
            late_pre_notification: false,
        })
    }

    fn subject(code: &str, origin: &str, ched: ChedPresentation) -> Subject {
        Subject {
            subject: "consignments[0]".into(),
            commodity_code: code.into(),
            species: None,
            species_group: None,
            origin_country: origin.into(),
            origin_region: None,
            quantity: None,
            ched,
            certificate: CertificatePresentation::None,
        }
    }

    fn codes(decision: &ConsignmentDecision) -> Vec<&str> {
        decision.findings.iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn regulation_2017_625_art_56_meat_without_pre_notification_is_held() {
        let rules = rules();
        let decision = assess_one(
            &subject("020230", "ARG", ChedPresentation::None),
            &context(&rules, "seed"),
            false,
        );
        assert_eq!(decision.document_type, Some(DocumentType::ChedP));
        assert_eq!(decision.verdict, Verdict::Refer);
        assert!(decision.checks.documentary && decision.checks.identity);
        assert_eq!(
            codes(&decision),
            ["CHED_P_REQUIRED", "PRE_NOTIFICATION_MISSING"]
        );
        assert_eq!(decision.links_ched, None);
    }

    #[test]
    fn regulation_2019_2129_live_animals_are_physically_checked_every_time() {
        let rules = rules();
        for seed in ["a", "b", "c", "d"] {
            let mut animals = subject("010121", "SRB", ched("R", Status::New, "010121", "SRB"));
            if let ChedPresentation::Found(presented) = &mut animals.ched {
                presented.document_type = DocumentType::ChedA;
            }
            let decision = assess_one(&animals, &context(&rules, seed), false);
            assert!(decision.checks.physical);
            assert_eq!(decision.verdict, Verdict::Refer);
            assert!(codes(&decision).contains(&"PHYSICAL_CHECK_SELECTED"));
        }
    }

    #[test]
    fn regulation_2019_2129_the_random_selection_is_replayable_and_near_its_rate() {
        let rules = rules();
        let presented = || subject("020230", "ARG", ched("R", Status::New, "020230", "ARG"));
        let physical = (0..4000)
            .filter(|i| {
                let seed = i.to_string();
                assess_one(&presented(), &context(&rules, &seed), false)
                    .checks
                    .physical
            })
            .count();
        // 15 % of 4000 = 600; a binomial standard deviation is about 23.
        assert!((500..700).contains(&physical), "{physical}");
        let first = assess_one(&presented(), &context(&rules, "replay"), false);
        assert_eq!(
            first,
            assess_one(&presented(), &context(&rules, "replay"), false)
        );
        // The record of the draw is enough to replay the selection without the rules.
        assert_eq!(
            first.selection.physical_draw,
            draw("replay", "consignments[0]#physical")
        );
        assert_eq!(
            first.checks.physical,
            Decimal::from(first.selection.physical_draw)
                < first.selection.physical_rate * Decimal::ONE_HUNDRED
        );
    }

    #[test]
    fn regulation_2019_2129_art_8_high_non_compliance_raises_the_physical_rate() {
        let rules = rules();
        let presented = || subject("020230", "ARG", ched("R", Status::New, "020230", "ARG"));
        let raised = assess_one(&presented(), &context(&rules, "s"), true);
        assert_eq!(raised.selection.physical_rate, Decimal::from(50));
        assert!(raised.selection.rate_basis.contains("Art. 8"));
        let physical = (0..2000)
            .filter(|i| {
                let seed = i.to_string();
                assess_one(&presented(), &context(&rules, &seed), true)
                    .checks
                    .physical
            })
            .count();
        assert!((900..1100).contains(&physical), "{physical}");
    }

    #[test]
    fn regulation_2017_625_art_34_laboratory_sampling_is_decided_with_its_reason() {
        let rules = rules();
        let mut pepper = subject("090411", "BRA", ChedPresentation::None);
        pepper.ched = ChedPresentation::Found(PresentedChed {
            reference: "CHEDD.HRV.2026.00000001".into(),
            status: Status::New,
            document_type: DocumentType::ChedD,
            commodity_code: "090411".into(),
            origin_country: "BRA".into(),
            late_pre_notification: false,
        });
        let (mut with_physical, mut without) = (None, None);
        for i in 0..200 {
            let seed = i.to_string();
            let decision = assess_one(&pepper, &context(&rules, &seed), false);
            if decision.checks.physical {
                with_physical.get_or_insert(decision);
            } else {
                without.get_or_insert(decision);
            }
        }
        let sampled = with_physical.unwrap();
        assert!(sampled.laboratory.sampled);
        assert!(sampled.laboratory.reason.contains("Salmonella"));
        assert!(codes(&sampled).contains(&"LABORATORY_SAMPLING"));
        let not_sampled = without.unwrap();
        assert!(!not_sampled.laboratory.sampled);
        assert!(not_sampled.laboratory.reason.contains("no physical check"));
    }

    #[test]
    fn implementing_regulation_2019_1715_a_used_cancelled_or_foreign_ched_is_refused() {
        let rules = rules();
        let assess = |ched| {
            assess_one(
                &subject("020230", "ARG", ched),
                &context(&rules, "s"),
                false,
            )
        };
        let used = assess(ched("R", Status::InProgress, "020230", "ARG"));
        assert_eq!(used.verdict, Verdict::Refuse);
        assert!(codes(&used).contains(&"CHED_ALREADY_USED"));
        assert_eq!(used.links_ched, None);
        let cancelled = assess(ched("R", Status::Cancelled, "020230", "ARG"));
        assert!(codes(&cancelled).contains(&"CHED_CANCELLED"));
        let other_commodity = assess(ched("R", Status::New, "040690", "ARG"));
        assert_eq!(other_commodity.verdict, Verdict::Refuse);
        assert!(codes(&other_commodity).contains(&"CHED_COMMODITY_MISMATCH"));
        let linked = assess(ched("R", Status::New, "02023010", "ARG"));
        assert_eq!(linked.links_ched.as_deref(), Some("R"));
        assert!(linked.verdict <= Verdict::Refer);
    }

    #[test]
    fn regulation_2023_594_pig_meat_from_a_swine_fever_origin_is_refused_with_the_rule_named() {
        let rules = rules();
        let decision = assess_one(
            &subject("020322", "SRB", ChedPresentation::None),
            &context(&rules, "s"),
            false,
        );
        assert_eq!(decision.verdict, Verdict::Refuse);
        let restriction = decision
            .findings
            .iter()
            .find(|f| f.code == "DISEASE_RESTRICTION")
            .unwrap();
        assert_eq!(restriction.rule_id, "ASF-SRB-2023");
        assert!(restriction.message.contains("African swine fever"));
    }

    #[test]
    fn a_refused_consignment_does_not_use_up_its_ched() {
        let rules = rules();
        let decision = assess_one(
            &subject("020322", "SRB", ched("R", Status::New, "020322", "SRB")),
            &context(&rules, "s"),
            false,
        );
        assert_eq!(decision.verdict, Verdict::Refuse);
        assert_eq!(decision.links_ched, None);
    }

    #[test]
    fn regulation_2017_625_art_55_and_66_the_inspection_result_decides_the_verdict() {
        let compliant = decision_finding(true, None, "CHEDP.HRV.2026.00000001");
        assert_eq!(
            (compliant.code.as_str(), compliant.verdict),
            ("INSPECTION_COMPLIANT", Verdict::Clear)
        );
        let destroyed = decision_finding(false, Some("destruction"), "CHEDP.HRV.2026.00000001");
        assert_eq!(destroyed.verdict, Verdict::Refuse);
        assert_eq!(destroyed.rule_id, "REG-2017-625-ART-66");
        assert!(destroyed.message.ends_with("measure ordered: destruction"));
    }

    #[test]
    fn goods_outside_sanitary_control_are_cleared_without_document() {
        let rules = rules();
        let decision = assess_one(
            &subject("847130", "CHN", ChedPresentation::None),
            &context(&rules, "seed"),
            false,
        );
        assert_eq!(decision.verdict, Verdict::Clear);
        assert_eq!(decision.document_type, None);
    }

    #[test]
    fn regulation_2016_2031_art_72_plants_without_a_certificate_are_held() {
        let rules = rules();
        let decision = assess_one(
            &subject("080810", "SRB", ChedPresentation::None),
            &context(&rules, "seed"),
            false,
        );
        assert!(codes(&decision).contains(&"PHYTO_CERTIFICATE_MISSING"));
        assert_eq!(decision.verdict, Verdict::Refer);
    }
}
