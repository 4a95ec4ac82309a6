//! The sanitary server on loopback port 0 with its own database (a SQLite file, or a fresh
//! PostgreSQL database when BORDERMESH_TEST_POSTGRES_URL is set), called through the generated
//! client as the gateway and a border control post's systems call it.

use std::net::SocketAddr;

use bordermesh_kit::{config::Config, server::ServerHandle, storage::testing};
use bordermesh_proto::{
    common::v1::{CrossingPoint, Date, Direction, Quantity, Verdict},
    sanitary::v1::{
        AssessConsignmentsRequest, Assessment, AssessmentStatus, CancelChedRequest,
        CertifiedCommodity, CheckLuggageRequest, Ched, ChedPartI, ChedStatus, Consignment,
        CustomsReferral, DocumentType, GetAssessmentRequest, GetChedRequest,
        GetLuggageCheckRequest, GetPhytosanitaryCertificateRequest, InspectionOutcome, LuggageItem,
        Measure, PhytosanitaryCertificate, PresentChedRequest, RecordFollowUpRequest,
        RecordInspectionResultRequest, ReleaseAssessmentRequest, SubmitChedRequest,
        SubmitPhytosanitaryCertificateRequest, Treatment, TreatmentType,
        sanitary_service_client::SanitaryServiceClient,
    },
};
use chrono::{Datelike, Days, NaiveDate, Utc};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status, transport::Channel};
use tonic_types::StatusExt;
use uuid::Uuid;

/// A running sanitary server; dropping it stops the server and removes its data.
struct Sanitary {
    client: SanitaryServiceClient<Channel>,
    shutdown: CancellationToken,
    _data_dir: tempfile::TempDir,
    _database: testing::TestDatabase,
}

impl Drop for Sanitary {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Sanitary {
    async fn start() -> Self {
        Self::start_with_policy(None).await
    }

    /// Starts the server; `policy` is written as the data directory's `sanitary-policy.toml`.
    async fn start_with_policy(policy: Option<&str>) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        if let Some(policy) = policy {
            std::fs::write(data_dir.path().join("sanitary-policy.toml"), policy).unwrap();
        }
        let mut config = Config {
            data_dir: data_dir.path().to_path_buf(),
            drain_seconds: 1,
            ..Config::default()
        };
        config.sanitary.listen = "127.0.0.1:0".parse().unwrap();
        // PostgreSQL when BORDERMESH_TEST_POSTGRES_URL is set, else a SQLite file.
        let database = testing::databases().await.unwrap().pop().unwrap();
        config.sanitary.database_url = Some(database.url.clone());
        let shutdown = CancellationToken::new();
        let handle = ServerHandle::bind(
            config.sanitary.listen,
            shutdown.clone(),
            config.server_options(),
        )
        .await
        .unwrap();
        let addr: SocketAddr = handle.local_addr().unwrap();
        tokio::spawn(async move { bordermesh_sanitary::serve(&config, handle).await });
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        Self {
            client: SanitaryServiceClient::new(channel),
            shutdown,
            _data_dir: data_dir,
            _database: database,
        }
    }

    async fn assess(&mut self, request: AssessConsignmentsRequest) -> Assessment {
        self.client
            .assess_consignments(request)
            .await
            .unwrap()
            .into_inner()
            .assessment
            .unwrap()
    }

    async fn submit(&mut self, part_i: ChedPartI) -> Ched {
        self.client
            .submit_ched(SubmitChedRequest {
                request_id: new_id(),
                part_i: Some(part_i),
            })
            .await
            .unwrap()
            .into_inner()
            .ched
            .unwrap()
    }

    async fn ched(&mut self, reference: &str) -> Ched {
        self.client
            .get_ched(GetChedRequest {
                reference: reference.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .ched
            .unwrap()
    }

    async fn decide(
        &mut self,
        reference: &str,
        outcome: InspectionOutcome,
        measure: Measure,
    ) -> Result<Ched, Status> {
        self.client
            .record_inspection_result(RecordInspectionResultRequest {
                request_id: new_id(),
                reference: reference.into(),
                inspector_id: "INSP-0042".into(),
                outcome: outcome.into(),
                measure: measure.into(),
                notes: "checked".into(),
                ..Default::default()
            })
            .await
            .map(|response| response.into_inner().ched.unwrap())
    }
}

fn new_id() -> String {
    Uuid::new_v4().to_string()
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn date(day: NaiveDate) -> Date {
    Date {
        year: day.year(),
        month: day.month() as i32,
        day: day.day() as i32,
    }
}

fn kg(value: &str) -> Quantity {
    Quantity {
        value: value.into(),
        unit: "KGM".into(),
    }
}

fn post() -> CrossingPoint {
    CrossingPoint {
        code: "HR-BAJAKOVO".into(),
        country: "HRV".into(),
    }
}

/// Chilled Argentine beef that presents the CHED `reference`.
fn beef_presenting(reference: &str) -> Consignment {
    Consignment {
        ched_reference: reference.into(),
        ..consignment("020230", "Bos taurus", "ARG")
    }
}

fn consignment(code: &str, species: &str, origin: &str) -> Consignment {
    Consignment {
        reference: "container-1".into(),
        commodity_code: code.into(),
        species: species.into(),
        origin_country: origin.into(),
        quantity: Some(kg("18000")),
        net_mass_kg: "18000".into(),
        ..Default::default()
    }
}

fn assess_request(consignments: Vec<Consignment>) -> AssessConsignmentsRequest {
    AssessConsignmentsRequest {
        request_id: new_id(),
        crossing_point: Some(post()),
        direction: Direction::Entry.into(),
        consignments,
        ..Default::default()
    }
}

fn part_i(code: &str, species: &str, origin: &str, arrival: NaiveDate) -> ChedPartI {
    ChedPartI {
        commodity_code: code.into(),
        species: species.into(),
        origin_country: origin.into(),
        quantity: Some(kg("18000")),
        net_mass_kg: "18000".into(),
        consignor: "Frigorifico del Sur SA".into(),
        consignee: "Meso d.o.o.".into(),
        border_control_post: Some(post()),
        expected_arrival: Some(date(arrival)),
        ..Default::default()
    }
}

fn in_a_week() -> NaiveDate {
    today().checked_add_days(Days::new(7)).unwrap()
}

fn codes(assessment: &Assessment, index: usize) -> Vec<String> {
    assessment.consignments[index]
        .reasons
        .iter()
        .map(|r| r.code.clone())
        .collect()
}

fn violations(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn meat_without_a_ched_is_referred_for_pre_notification_as_the_gateway_expects() {
    let mut server = Sanitary::start().await;
    let request = assess_request(vec![consignment("020230", "Bos taurus", "ARG")]);
    let seed = request.request_id.clone();
    let assessment = server.assess(request).await;
    assert_eq!(assessment.verdict(), Verdict::Refer);
    assert_eq!(
        codes(&assessment, 0),
        ["CHED_P_REQUIRED", "PRE_NOTIFICATION_MISSING"]
    );
    let consignment = &assessment.consignments[0];
    assert_eq!(consignment.document_type(), DocumentType::ChedP);
    // Regulation (EU) 2019/2129: the seed and the draws are recorded for replay.
    let selection = consignment.selection.as_ref().unwrap();
    assert_eq!(selection.seed, seed);
    assert_eq!(assessment.seed, seed);
    assert_eq!(selection.physical_rate_percent, "15");
    assert!(selection.physical_draw < 10_000);
    assert!(
        consignment
            .laboratory
            .as_ref()
            .is_some_and(|l| !l.reason.is_empty())
    );
    let read = server
        .client
        .get_assessment(GetAssessmentRequest {
            assessment_id: assessment.assessment_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap();
    assert_eq!(read, assessment);
}

#[tokio::test]
async fn customs_referrals_are_assessed_under_their_own_subject() {
    let mut server = Sanitary::start().await;
    let mut request = assess_request(vec![]);
    request.referrals = vec![CustomsReferral {
        subject: "goods[0]".into(),
        commodity_code: "020230".into(),
        origin_country: "ARG".into(),
        document_type: "CHED-P".into(),
    }];
    let assessment = server.assess(request).await;
    assert_eq!(assessment.consignments[0].subject, "goods[0]");
    assert_eq!(assessment.verdict(), Verdict::Refer);
    assert_eq!(
        codes(&assessment, 0),
        ["CHED_P_REQUIRED", "PRE_NOTIFICATION_MISSING"]
    );
}

#[tokio::test]
async fn a_customs_referral_is_decided_once_its_ched_is_presented() {
    let mut server = Sanitary::start().await;
    let mut request = assess_request(vec![]);
    request.referrals = vec![CustomsReferral {
        subject: "goods[0]".into(),
        commodity_code: "020230".into(),
        origin_country: "ARG".into(),
        document_type: "CHED-P".into(),
    }];
    let referred = server.assess(request).await;
    let cheese = server
        .submit(part_i("040690", "Bos taurus", "ARG", in_a_week()))
        .await;
    let present = |reference: &str| PresentChedRequest {
        request_id: new_id(),
        reference: reference.into(),
        assessment_id: referred.assessment_id.clone(),
        subject: "goods[0]".into(),
    };
    let mismatch = server
        .client
        .present_ched(present(&cheese.reference))
        .await
        .unwrap_err();
    assert_eq!(mismatch.code(), Code::FailedPrecondition);
    assert_eq!(
        mismatch.get_error_details().error_info().unwrap().reason,
        "CHED_COMMODITY_MISMATCH"
    );

    let beef = server
        .submit(part_i("020230", "Bos taurus", "ARG", in_a_week()))
        .await;
    let presented = server
        .client
        .present_ched(present(&beef.reference))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(presented.ched.unwrap().status(), ChedStatus::InProgress);
    assert_eq!(
        presented.assessment.unwrap().consignments[0].ched_reference,
        beef.reference
    );
    let again = server
        .client
        .present_ched(present(&beef.reference))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    server
        .decide(
            &beef.reference,
            InspectionOutcome::Compliant,
            Measure::Unspecified,
        )
        .await
        .unwrap();
    let decided = server
        .client
        .get_assessment(GetAssessmentRequest {
            assessment_id: referred.assessment_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap();
    assert_eq!(decided.verdict(), Verdict::Clear);
    let goods = &decided.consignments[0];
    assert_eq!(goods.subject, "goods[0]");
    assert_eq!(
        goods.decision.as_ref().unwrap().outcome(),
        InspectionOutcome::Compliant
    );
    assert!(codes(&decided, 0).contains(&"INSPECTION_COMPLIANT".to_owned()));
}

#[tokio::test]
async fn a_ched_serves_one_consignment_and_a_second_presentation_is_refused() {
    let mut server = Sanitary::start().await;
    let ched = server
        .submit(part_i("020230", "Bos taurus", "ARG", in_a_week()))
        .await;
    assert_eq!(ched.status(), ChedStatus::New);
    assert_eq!(ched.document_type(), DocumentType::ChedP);
    assert!(
        ched.reference.starts_with("CHEDP.HRV."),
        "{}",
        ched.reference
    );
    assert!(!ched.late_pre_notification);

    let presented = beef_presenting(&ched.reference);
    let request = assess_request(vec![presented.clone()]);
    let first = server.assess(request.clone()).await;
    assert_eq!(first.consignments[0].ched_reference, ched.reference);
    assert!(first.verdict() <= Verdict::Refer, "{first:?}");
    // AIP-155: the same request replays the same answer and does not use the document again.
    assert_eq!(server.assess(request).await, first);
    let linked = server.ched(&ched.reference).await;
    assert_eq!(linked.status(), ChedStatus::InProgress);
    assert_eq!(linked.assessment_id, first.assessment_id);
    assert_eq!(linked.subject, "consignments[0]");

    let second = server.assess(assess_request(vec![presented])).await;
    assert_eq!(second.verdict(), Verdict::Refuse);
    assert!(codes(&second, 0).contains(&"CHED_ALREADY_USED".to_owned()));
    assert_eq!(second.consignments[0].ched_reference, "");
}

#[tokio::test]
async fn an_unknown_ched_reference_holds_the_consignment_and_reads_as_not_found() {
    let mut server = Sanitary::start().await;
    let presented = beef_presenting("CHEDP.HRV.2026.99999999");
    let assessment = server.assess(assess_request(vec![presented])).await;
    assert_eq!(assessment.verdict(), Verdict::Refer);
    assert!(codes(&assessment, 0).contains(&"CHED_NOT_FOUND".to_owned()));
    let status = server
        .client
        .get_ched(GetChedRequest {
            reference: "CHEDP.HRV.2026.99999999".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn concurrent_presentations_of_one_ched_link_it_to_exactly_one_consignment() {
    let mut server = Sanitary::start().await;
    let ched = server
        .submit(part_i("020230", "Bos taurus", "ARG", in_a_week()))
        .await;
    let presented = beef_presenting(&ched.reference);
    let calls = (0..6).map(|_| {
        let mut client = server.client.clone();
        let request = assess_request(vec![presented.clone()]);
        tokio::spawn(async move {
            // A call that lost the race is ABORTED; its retry sees the document in use.
            match client.assess_consignments(request.clone()).await {
                Err(status) if status.code() == Code::Aborted => {
                    client.assess_consignments(request).await
                }
                answer => answer,
            }
        })
    });
    let mut linked = 0;
    for call in calls.collect::<Vec<_>>() {
        let assessment = call
            .await
            .unwrap()
            .unwrap()
            .into_inner()
            .assessment
            .unwrap();
        if assessment.consignments[0].ched_reference == ched.reference {
            linked += 1;
        } else {
            assert!(codes(&assessment, 0).contains(&"CHED_ALREADY_USED".to_owned()));
        }
    }
    assert_eq!(linked, 1);
}

#[tokio::test]
async fn a_repeated_submission_returns_the_same_ched_and_a_changed_one_is_refused() {
    let mut server = Sanitary::start().await;
    let mut request = SubmitChedRequest {
        request_id: new_id(),
        part_i: Some(part_i("010221", "Bos taurus", "SRB", in_a_week())),
    };
    let submit = |request: SubmitChedRequest| {
        let mut client = server.client.clone();
        async move { client.submit_ched(request).await }
    };
    let first = submit(request.clone()).await.unwrap().into_inner();
    let ched = first.ched.as_ref().unwrap();
    assert_eq!(ched.document_type(), DocumentType::ChedA);
    assert_eq!(submit(request.clone()).await.unwrap().into_inner(), first);
    request.part_i.as_mut().unwrap().consignee = "Someone else".into();
    let changed = submit(request).await.unwrap_err();
    assert_eq!(changed.code(), Code::AlreadyExists);
    assert_eq!(server.ched(&ched.reference).await.status(), ChedStatus::New);
}

#[tokio::test]
async fn a_pre_notification_on_the_day_of_arrival_is_flagged_late() {
    let mut server = Sanitary::start().await;
    let ched = server
        .submit(part_i("020230", "Bos taurus", "ARG", today()))
        .await;
    assert!(ched.late_pre_notification);
    let presented = beef_presenting(&ched.reference);
    let assessment = server.assess(assess_request(vec![presented])).await;
    assert!(codes(&assessment, 0).contains(&"PRE_NOTIFICATION_LATE".to_owned()));
    assert_eq!(assessment.consignments[0].verdict(), Verdict::Refer);
}

#[tokio::test]
async fn a_ched_for_another_commodity_is_refused_and_stays_unused() {
    let mut server = Sanitary::start().await;
    let cheese = server
        .submit(part_i("040690", "Bos taurus", "ARG", in_a_week()))
        .await;
    let presented = beef_presenting(&cheese.reference);
    let assessment = server.assess(assess_request(vec![presented])).await;
    assert_eq!(assessment.verdict(), Verdict::Refuse);
    assert!(codes(&assessment, 0).contains(&"CHED_COMMODITY_MISMATCH".to_owned()));
    assert_eq!(
        server.ched(&cheese.reference).await.status(),
        ChedStatus::New
    );
}

#[tokio::test]
async fn a_cancelled_ched_is_refused_and_the_lifecycle_is_enforced() {
    let mut server = Sanitary::start().await;
    let ched = server
        .submit(part_i("020230", "Bos taurus", "ARG", in_a_week()))
        .await;
    // Part II needs the consignment presented first.
    let early = server
        .decide(
            &ched.reference,
            InspectionOutcome::Compliant,
            Measure::Unspecified,
        )
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    let cancel = |request_id: String| CancelChedRequest {
        request_id,
        reference: ched.reference.clone(),
        reason: "order withdrawn".into(),
    };
    let cancelled = server
        .client
        .cancel_ched(cancel(new_id()))
        .await
        .unwrap()
        .into_inner()
        .ched
        .unwrap();
    assert_eq!(cancelled.status(), ChedStatus::Cancelled);
    let again = server
        .client
        .cancel_ched(cancel(new_id()))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    let presented = beef_presenting(&ched.reference);
    let assessment = server.assess(assess_request(vec![presented])).await;
    assert_eq!(assessment.verdict(), Verdict::Refuse);
    assert!(codes(&assessment, 0).contains(&"CHED_CANCELLED".to_owned()));
}

#[tokio::test]
async fn an_inspection_result_becomes_the_decision_read_through_the_assessment_and_the_ched() {
    let mut server = Sanitary::start().await;
    let ched = server
        .submit(part_i("020230", "Bos taurus", "ARG", in_a_week()))
        .await;
    let presented = beef_presenting(&ched.reference);
    let assessment = server.assess(assess_request(vec![presented.clone()])).await;

    let missing_measure = server
        .decide(
            &ched.reference,
            InspectionOutcome::NonCompliant,
            Measure::Unspecified,
        )
        .await
        .unwrap_err();
    assert_eq!(violations(&missing_measure), ["measure"]);

    let decided = server
        .decide(
            &ched.reference,
            InspectionOutcome::NonCompliant,
            Measure::Destruction,
        )
        .await
        .unwrap();
    assert_eq!(decided.status(), ChedStatus::Decided);
    let part_ii = decided.part_ii.as_ref().unwrap();
    assert_eq!(part_ii.measure(), Measure::Destruction);
    assert_eq!(part_ii.inspector_id, "INSP-0042");

    let read = server
        .client
        .get_assessment(GetAssessmentRequest {
            assessment_id: assessment.assessment_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap();
    assert_eq!(read.verdict(), Verdict::Refuse);
    let consignment = &read.consignments[0];
    assert_eq!(consignment.decision.as_ref(), Some(part_ii));
    assert!(codes(&read, 0).contains(&"INSPECTION_NON_COMPLIANT".to_owned()));

    let used = server
        .client
        .record_follow_up(RecordFollowUpRequest {
            request_id: new_id(),
            reference: ched.reference.clone(),
            description: "destroyed under official supervision".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .ched
        .unwrap();
    assert_eq!(used.status(), ChedStatus::Used);
    assert!(used.part_iii.is_some());
    let again = server.assess(assess_request(vec![presented])).await;
    assert!(codes(&again, 0).contains(&"CHED_ALREADY_USED".to_owned()));
}

#[tokio::test]
async fn an_origin_with_high_recent_non_compliance_gets_more_physical_checks() {
    let mut server = Sanitary::start_with_policy(Some(
        "non_compliance_min_results = 2\nnon_compliance_threshold_percent = \"50\"\nincreased_physical_check_percent = \"100\"\n",
    ))
    .await;
    for _ in 0..2 {
        let ched = server
            .submit(part_i("020230", "Bos taurus", "ARG", in_a_week()))
            .await;
        let presented = beef_presenting(&ched.reference);
        server.assess(assess_request(vec![presented])).await;
        server
            .decide(
                &ched.reference,
                InspectionOutcome::NonCompliant,
                Measure::ReDispatch,
            )
            .await
            .unwrap();
    }
    let argentina = server
        .assess(assess_request(vec![consignment(
            "020230",
            "Bos taurus",
            "ARG",
        )]))
        .await;
    let selection = argentina.consignments[0].selection.as_ref().unwrap();
    assert_eq!(selection.physical_rate_percent, "100");
    assert!(
        selection.rate_basis.contains("Art. 8"),
        "{}",
        selection.rate_basis
    );
    assert!(argentina.consignments[0].checks.as_ref().unwrap().physical);
    let uruguay = server
        .assess(assess_request(vec![consignment(
            "020230",
            "Bos taurus",
            "URY",
        )]))
        .await;
    assert_eq!(
        uruguay.consignments[0]
            .selection
            .as_ref()
            .unwrap()
            .physical_rate_percent,
        "15"
    );
}

#[tokio::test]
async fn consignments_under_disease_restrictions_are_refused_with_the_rule_named() {
    let mut server = Sanitary::start().await;
    let pork = server
        .assess(assess_request(vec![consignment(
            "020322",
            "Sus scrofa",
            "SRB",
        )]))
        .await;
    assert_eq!(pork.verdict(), Verdict::Refuse);
    let reason = pork.consignments[0]
        .reasons
        .iter()
        .find(|r| r.code == "DISEASE_RESTRICTION")
        .unwrap();
    assert_eq!(reason.rule_id, "ASF-SRB-2023");

    let mut poultry = consignment("020714", "Gallus gallus", "UKR");
    poultry.origin_region = "UA-71".into();
    let mut request = assess_request(vec![poultry.clone()]);
    request.crossing_date = Some(date(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()));
    let zone = server.assess(request.clone()).await;
    assert_eq!(zone.verdict(), Verdict::Refuse);
    assert!(
        zone.consignments[0]
            .reasons
            .iter()
            .any(|r| r.rule_id == "HPAI-UKR-CHERKASY")
    );

    poultry.origin_region = String::new();
    request.request_id = new_id();
    request.consignments = vec![poultry];
    let unknown_region = server.assess(request).await;
    assert_eq!(unknown_region.verdict(), Verdict::Refer);
    assert!(codes(&unknown_region, 0).contains(&"ORIGIN_REGION_REQUIRED".to_owned()));
}

#[tokio::test]
async fn food_under_increased_controls_needs_a_ched_d() {
    let mut server = Sanitary::start().await;
    let pepper = server
        .assess(assess_request(vec![consignment(
            "090411",
            "Piper nigrum",
            "BRA",
        )]))
        .await;
    assert_eq!(pepper.consignments[0].document_type(), DocumentType::ChedD);
    assert!(codes(&pepper, 0).contains(&"CHED_D_REQUIRED".to_owned()));
    let ched = server
        .submit(part_i("090411", "Piper nigrum", "BRA", in_a_week()))
        .await;
    assert_eq!(ched.document_type(), DocumentType::ChedD);
    assert!(ched.reference.starts_with("CHEDD."), "{}", ched.reference);
}

fn oranges_certificate(
    id: &str,
    treatments: Vec<TreatmentType>,
    issued: NaiveDate,
) -> PhytosanitaryCertificate {
    PhytosanitaryCertificate {
        certificate_id: id.into(),
        issuing_nppo: "Department of Agriculture, Land Reform and Rural Development".into(),
        issuing_country: "ZAF".into(),
        consignor: "Citrus Growers Ltd, Port Elizabeth".into(),
        consignee: "Voce d.o.o., Zagreb".into(),
        origin_country: "ZAF".into(),
        commodities: vec![CertifiedCommodity {
            botanical_name: "Citrus sinensis".into(),
            commodity_code: "080510".into(),
            description: "fresh oranges".into(),
            quantity: Some(kg("20000")),
        }],
        treatments: treatments
            .into_iter()
            .map(|treatment| Treatment {
                r#type: treatment.into(),
                conditions: "-0.5 C for 24 days".into(),
                ..Default::default()
            })
            .collect(),
        additional_declarations: vec![
            "The consignment is free from Thaumatotibia leucotreta".into(),
        ],
        issue_date: Some(date(issued)),
    }
}

impl Sanitary {
    async fn submit_certificate(
        &mut self,
        certificate: PhytosanitaryCertificate,
    ) -> Result<(), Status> {
        self.client
            .submit_phytosanitary_certificate(SubmitPhytosanitaryCertificateRequest {
                request_id: new_id(),
                certificate: Some(certificate),
            })
            .await
            .map(|_| ())
    }

    /// A CHED-PP for oranges and a consignment presenting it with `certificate_id`.
    async fn oranges(&mut self, certificate_id: &str, quantity: &str) -> Consignment {
        let ched = self
            .submit(part_i("080510", "Citrus sinensis", "ZAF", in_a_week()))
            .await;
        let mut oranges = consignment("080510", "Citrus sinensis", "ZAF");
        oranges.quantity = Some(kg(quantity));
        oranges.ched_reference = ched.reference;
        oranges.phytosanitary_certificate_id = certificate_id.into();
        oranges
    }
}

#[tokio::test]
async fn an_ephyto_certificate_covers_one_consignment_and_a_replay_is_caught() {
    let mut server = Sanitary::start().await;
    let issued = today().checked_sub_days(Days::new(2)).unwrap();
    let certificate = oranges_certificate("ZA-2026-000123", vec![TreatmentType::Cold], issued);
    server
        .submit_certificate(certificate.clone())
        .await
        .unwrap();
    let replayed = server.submit_certificate(certificate).await.unwrap_err();
    assert_eq!(replayed.code(), Code::AlreadyExists);

    let oranges = server.oranges("ZA-2026-000123", "20500").await;
    let first = server.assess(assess_request(vec![oranges])).await;
    assert!(
        !codes(&first, 0)
            .iter()
            .any(|code| code.starts_with("PHYTO_")),
        "{:?}",
        codes(&first, 0)
    );
    assert_eq!(
        first.consignments[0].phytosanitary_certificate_id,
        "ZA-2026-000123"
    );
    let read = server
        .client
        .get_phytosanitary_certificate(GetPhytosanitaryCertificateRequest {
            certificate_id: "ZA-2026-000123".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.used_by_assessment_id, first.assessment_id);

    let second_consignment = server.oranges("ZA-2026-000123", "20000").await;
    let second = server
        .assess(assess_request(vec![second_consignment]))
        .await;
    assert_eq!(second.verdict(), Verdict::Refuse);
    assert!(codes(&second, 0).contains(&"PHYTO_CERTIFICATE_ALREADY_USED".to_owned()));
}

#[tokio::test]
async fn the_certificate_and_species_pre_notified_in_part_i_are_checked_when_the_consignment_omits_them()
 {
    let mut server = Sanitary::start().await;
    let issued = today().checked_sub_days(Days::new(1)).unwrap();
    server
        .submit_certificate(oranges_certificate(
            "ZA-2026-000300",
            vec![TreatmentType::Cold],
            issued,
        ))
        .await
        .unwrap();
    let mut notified = part_i("080510", "Citrus sinensis", "ZAF", in_a_week());
    notified.phytosanitary_certificate_id = "ZA-2026-000300".into();
    let ched = server.submit(notified).await;
    assert_eq!(ched.document_type(), DocumentType::ChedPp);
    let mut oranges = consignment("080510", "", "ZAF");
    oranges.quantity = Some(kg("20000"));
    oranges.ched_reference = ched.reference;
    let assessment = server.assess(assess_request(vec![oranges])).await;
    assert_eq!(
        assessment.consignments[0].phytosanitary_certificate_id,
        "ZA-2026-000300"
    );
    assert!(
        !codes(&assessment, 0)
            .iter()
            .any(|code| code.starts_with("PHYTO_")),
        "{:?}",
        codes(&assessment, 0)
    );
}

#[tokio::test]
async fn an_ephyto_certificate_without_the_required_treatment_or_quantity_or_validity_is_refused() {
    let mut server = Sanitary::start().await;
    let issued = today().checked_sub_days(Days::new(1)).unwrap();
    server
        .submit_certificate(oranges_certificate(
            "ZA-2026-000200",
            vec![TreatmentType::Fumigation],
            issued,
        ))
        .await
        .unwrap();
    let oranges = server.oranges("ZA-2026-000200", "30000").await;
    let assessment = server.assess(assess_request(vec![oranges])).await;
    assert_eq!(assessment.verdict(), Verdict::Refuse);
    let found = codes(&assessment, 0);
    assert!(
        found.contains(&"PHYTO_TREATMENT_MISSING".to_owned()),
        "{found:?}"
    );
    assert!(
        found.contains(&"PHYTO_QUANTITY_MISMATCH".to_owned()),
        "{found:?}"
    );

    server
        .submit_certificate(oranges_certificate(
            "ZA-2026-000201",
            vec![TreatmentType::Cold],
            issued,
        ))
        .await
        .unwrap();
    let oranges = server.oranges("ZA-2026-000201", "20000").await;
    let mut request = assess_request(vec![oranges]);
    request.crossing_date = Some(date(issued.checked_add_days(Days::new(20)).unwrap()));
    let late = server.assess(request).await;
    assert_eq!(
        codes(&late, 0)
            .iter()
            .filter(|c| c.starts_with("PHYTO_"))
            .collect::<Vec<_>>(),
        ["PHYTO_CERTIFICATE_EXPIRED"]
    );
}

#[tokio::test]
async fn meat_in_luggage_is_seized_and_infant_milk_is_exempt() {
    let mut server = Sanitary::start().await;
    let request = CheckLuggageRequest {
        request_id: new_id(),
        crossing_point: Some(post()),
        traveller_reference: "T-1".into(),
        items: vec![
            LuggageItem {
                category: "MEAT".into(),
                description: "home-made sausage".into(),
                quantity: Some(kg("1.5")),
                origin_country: "SRB".into(),
            },
            LuggageItem {
                category: "INFANT_MILK_POWDER".into(),
                description: "sealed tin".into(),
                quantity: Some(kg("0.8")),
                origin_country: "SRB".into(),
            },
        ],
    };
    let check = server
        .client
        .check_luggage(request.clone())
        .await
        .unwrap()
        .into_inner()
        .check
        .unwrap();
    assert_eq!(check.verdict(), Verdict::ClearWithConditions);
    assert_eq!(check.seizures.len(), 1);
    let seizure = &check.seizures[0];
    assert_eq!((seizure.item_index, seizure.category.as_str()), (0, "MEAT"));
    assert_eq!(
        seizure.reason.as_ref().unwrap().rule_id,
        "REG-2019-2122-ART-6"
    );
    assert!(
        check
            .reasons
            .iter()
            .any(|r| r.code == "LUGGAGE_EXEMPTION" && r.subject == "items[1]")
    );
    let replay = server
        .client
        .check_luggage(request)
        .await
        .unwrap()
        .into_inner()
        .check
        .unwrap();
    assert_eq!(replay, check);
    assert_eq!(check.traveller_reference, "T-1");
    let stored = server
        .client
        .get_luggage_check(GetLuggageCheckRequest {
            check_id: check.check_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .check
        .unwrap();
    assert_eq!(stored, check);
}

#[tokio::test]
async fn bad_input_gets_a_field_violation_for_each_field() {
    let mut server = Sanitary::start().await;
    let mut unknown = consignment("020230", "Bos unicornis", "ARG");
    unknown.quantity = Some(kg("-3"));
    let mut pig_as_beef = consignment("020230", "Sus scrofa", "ARG");
    pig_as_beef.net_mass_kg = "-1".into();
    let laptops = consignment("847130", "", "CHN");
    let status = server
        .client
        .assess_consignments(assess_request(vec![unknown, pig_as_beef, laptops]))
        .await
        .unwrap_err();
    assert_eq!(
        violations(&status),
        [
            "consignments[0].species",
            "consignments[0].quantity.value",
            "consignments[1].species",
            "consignments[1].net_mass_kg",
            "consignments[2].commodity_code",
        ]
    );

    let future = today().checked_add_days(Days::new(3)).unwrap();
    let mut certificate = oranges_certificate("ZA-FUTURE", vec![], future);
    certificate.commodities[0].quantity = Some(kg("-20"));
    let status = server.submit_certificate(certificate).await.unwrap_err();
    assert_eq!(
        violations(&status),
        [
            "certificate.commodities[0].quantity.value",
            "certificate.issue_date"
        ]
    );

    let status = server
        .client
        .submit_ched(SubmitChedRequest {
            request_id: new_id(),
            part_i: Some(part_i("847130", "", "CHN", in_a_week())),
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["part_i.commodity_code"]);

    let mut cattle = part_i("010221", "", "SRB", in_a_week());
    cattle.quantity = Some(Quantity {
        value: "-12".into(),
        unit: "NAR".into(),
    });
    let status = server
        .client
        .submit_ched(SubmitChedRequest {
            request_id: new_id(),
            part_i: Some(cattle),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violations(&status),
        ["part_i.quantity.value", "part_i.species"]
    );

    let status = server
        .client
        .check_luggage(CheckLuggageRequest {
            request_id: new_id(),
            crossing_point: Some(post()),
            traveller_reference: "T-2".into(),
            items: vec![LuggageItem {
                category: "CAVIAR_OF_DRAGONS".into(),
                quantity: Some(kg("0.1")),
                origin_country: "RUS".into(),
                ..Default::default()
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["items[0].category"]);
}

fn release_request(assessment_id: &str) -> ReleaseAssessmentRequest {
    ReleaseAssessmentRequest {
        request_id: new_id(),
        assessment_id: assessment_id.into(),
        reason: "crossing refused by the border police".into(),
    }
}

impl Sanitary {
    async fn release(&mut self, request: ReleaseAssessmentRequest) -> Result<Assessment, Status> {
        self.client
            .release_assessment(request)
            .await
            .map(|response| response.into_inner().assessment.unwrap())
    }

    async fn read_assessment(&mut self, assessment_id: &str) -> Assessment {
        self.client
            .get_assessment(GetAssessmentRequest {
                assessment_id: assessment_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .assessment
            .unwrap()
    }
}

#[tokio::test]
async fn a_released_assessment_gives_back_its_undecided_cheds_for_another_crossing() {
    let mut server = Sanitary::start().await;
    let undecided = server
        .submit(part_i("020230", "Bos taurus", "ARG", in_a_week()))
        .await;
    let inspected = server
        .submit(part_i("020230", "Bos taurus", "ARG", in_a_week()))
        .await;
    let mut first = consignment("020230", "Bos taurus", "ARG");
    first.ched_reference = undecided.reference.clone();
    let mut second = consignment("020230", "Bos taurus", "ARG");
    second.ched_reference = inspected.reference.clone();
    let assessment = server
        .assess(assess_request(vec![first.clone(), second]))
        .await;
    assert_eq!(assessment.status(), AssessmentStatus::Assessed);
    server
        .decide(
            &inspected.reference,
            InspectionOutcome::Compliant,
            Measure::Unspecified,
        )
        .await
        .unwrap();
    let decided = server.read_assessment(&assessment.assessment_id).await;
    assert_eq!(decided.consignments[1].verdict(), Verdict::Clear);

    let request = release_request(&assessment.assessment_id);
    let released = server.release(request.clone()).await.unwrap();
    assert_eq!(released.status(), AssessmentStatus::Released);
    assert_eq!(
        released.released_ched_references,
        std::slice::from_ref(&undecided.reference)
    );
    assert_eq!(
        released.release_reason,
        "crossing refused by the border police"
    );
    assert!(released.release_time.is_some());
    assert!(codes(&released, 0).contains(&"DOCUMENT_RELEASED".to_owned()));
    // The inspected consignment keeps its decision and its verdict.
    assert_eq!(released.consignments[1], decided.consignments[1]);
    assert_eq!(
        server.read_assessment(&assessment.assessment_id).await,
        released
    );
    assert_eq!(server.release(request).await.unwrap(), released);
    assert_eq!(
        server
            .release(release_request(&assessment.assessment_id))
            .await
            .unwrap(),
        released
    );

    let given_back = server.ched(&undecided.reference).await;
    assert_eq!(given_back.status(), ChedStatus::New);
    assert!(given_back.assessment_id.is_empty() && given_back.subject.is_empty());
    assert_eq!(
        server.ched(&inspected.reference).await.status(),
        ChedStatus::Decided
    );
    // The released document serves the next crossing; the released assessment takes none.
    let status = server
        .client
        .present_ched(PresentChedRequest {
            request_id: new_id(),
            reference: undecided.reference.clone(),
            assessment_id: assessment.assessment_id.clone(),
            subject: "consignments[0]".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let next = server.assess(assess_request(vec![first])).await;
    assert_eq!(next.consignments[0].ched_reference, undecided.reference);
    assert!(!codes(&next, 0).contains(&"CHED_ALREADY_USED".to_owned()));
}

#[tokio::test]
async fn a_released_assessment_gives_back_its_phytosanitary_certificate() {
    let mut server = Sanitary::start().await;
    let issued = today().checked_sub_days(Days::new(2)).unwrap();
    let certificate = oranges_certificate("ZA-2026-000777", vec![TreatmentType::Cold], issued);
    server.submit_certificate(certificate).await.unwrap();
    let oranges = server.oranges("ZA-2026-000777", "20000").await;
    let assessment = server.assess(assess_request(vec![oranges.clone()])).await;
    let released = server
        .release(release_request(&assessment.assessment_id))
        .await
        .unwrap();
    assert_eq!(released.released_certificate_ids, ["ZA-2026-000777"]);
    assert_eq!(
        released.released_ched_references,
        std::slice::from_ref(&oranges.ched_reference)
    );
    let read = server
        .client
        .get_phytosanitary_certificate(GetPhytosanitaryCertificateRequest {
            certificate_id: "ZA-2026-000777".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(read.used_by_assessment_id.is_empty());
    let next = server.assess(assess_request(vec![oranges])).await;
    assert!(
        !codes(&next, 0).contains(&"PHYTO_CERTIFICATE_ALREADY_USED".to_owned()),
        "{:?}",
        codes(&next, 0)
    );
}

#[tokio::test]
async fn a_release_needs_a_known_assessment_and_names_bad_fields() {
    let mut server = Sanitary::start().await;
    let status = server
        .release(release_request(&new_id()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = server
        .release(ReleaseAssessmentRequest {
            request_id: "x".into(),
            assessment_id: "y".into(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violations(&status),
        ["request_id", "assessment_id", "reason"]
    );
}

#[tokio::test]
async fn concurrent_releases_give_a_document_back_once() {
    let mut server = Sanitary::start().await;
    let ched = server
        .submit(part_i("020230", "Bos taurus", "ARG", in_a_week()))
        .await;
    let presented = beef_presenting(&ched.reference);
    let assessment = server.assess(assess_request(vec![presented])).await;
    let mut calls = Vec::new();
    for _ in 0..6 {
        let mut client = server.client.clone();
        let request = release_request(&assessment.assessment_id);
        calls.push(tokio::spawn(async move {
            client.release_assessment(request).await
        }));
    }
    let mut answers = Vec::new();
    for call in calls {
        answers.push(
            call.await
                .unwrap()
                .unwrap()
                .into_inner()
                .assessment
                .unwrap(),
        );
    }
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));
    assert_eq!(
        answers[0].released_ched_references,
        std::slice::from_ref(&ched.reference)
    );
    let released = answers[0].consignments[0]
        .reasons
        .iter()
        .filter(|r| r.code == "DOCUMENT_RELEASED")
        .count();
    assert_eq!(released, 1);
}
