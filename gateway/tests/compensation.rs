//! Compensation and the second line of the border police and customs: a refused, rejected or
//! abandoned crossing undoes what the agencies recorded for it, and officers' later decisions
//! update a referred crossing.

mod support;

use std::{future::Future, time::Duration};

use bordermesh_gateway::mesh::Service;
use bordermesh_proto::{
    common::v1::{Agency, Direction, Money, Quantity, Verdict},
    crossing::v1::{
        Crossing, CrossingStatus, Decision, GetCrossingRequest, Outcome, ProcessCrossingRequest,
        crossing_service_client::CrossingServiceClient,
    },
    customs::v1::{
        DeclarationStatus, ExaminationResult, GetDeclarationRequest, GoodsItem,
        RecordExaminationRequest, customs_service_client::CustomsServiceClient,
    },
    identity::v1::{
        DocumentReport, DocumentReportSource, DocumentReportStatus, GetTravellerCheckRequest,
        InterviewOutcome, RecordInterviewOutcomeRequest, ReportDocumentRequest, TravelDocument,
        Traveller, TravellerCheck, identity_service_client::IdentityServiceClient,
    },
    sanitary::v1::{
        AssessmentStatus, GetAssessmentRequest, sanitary_service_client::SanitaryServiceClient,
    },
};
use support::{Mesh, example, free_addr, lorry, mesh_with};
use tonic::{IntoRequest, transport::Channel};

/// A New Zealand passenger whose passport clears.
const PASSENGER: &str =
    "P<NZLWILLIAMS<<AROHA<<<<<<<<<<<<<<<<<<<<<<<<\nLM01234568NZL9503308F3201174<<<<<<<<<<<<<<<2";

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Polls `probe` until it answers, for at most 20 s.
async fn eventually<T, F, Fut>(mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Some(found) = probe().await {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("in time")
}

struct Clients {
    crossings: CrossingServiceClient<Channel>,
    identity: IdentityServiceClient<Channel>,
    customs: CustomsServiceClient<Channel>,
    sanitary: SanitaryServiceClient<Channel>,
}

async fn clients(mesh: &Mesh) -> Clients {
    let gateway = &mesh.config.gateway;
    let lazy = |url: &str| Channel::from_shared(url.to_owned()).unwrap().connect_lazy();
    Clients {
        crossings: mesh.client().await,
        identity: IdentityServiceClient::new(lazy(&gateway.identity_url)),
        customs: CustomsServiceClient::new(lazy(&gateway.customs_url)),
        sanitary: SanitaryServiceClient::new(lazy(&gateway.sanitary_url)),
    }
}

impl Clients {
    /// The crossing, once `done` holds for it.
    async fn crossing_once(&self, crossing_id: &str, done: impl Fn(&Crossing) -> bool) -> Crossing {
        eventually(|| {
            let mut crossings = self.crossings.clone();
            let crossing_id = crossing_id.to_owned();
            let done = &done;
            async move {
                let crossing = crossings
                    .get_crossing(GetCrossingRequest { crossing_id })
                    .await
                    .ok()?
                    .into_inner()
                    .crossing?;
                done(&crossing).then_some(crossing)
            }
        })
        .await
    }

    /// Customs' second line finds the goods of a referred crossing not as declared; the
    /// crossing's decision once it is refused.
    async fn refuse_goods(&mut self, referred: &Crossing, findings: &str) -> Decision {
        self.customs
            .record_examination(RecordExaminationRequest {
                request_id: id(),
                declaration_id: record_of(referred, Agency::Customs, "goods"),
                officer_id: "customs-3".into(),
                result: ExaminationResult::NotConform.into(),
                findings: findings.into(),
            })
            .await
            .unwrap();
        self.crossing_once(&referred.crossing_id, |crossing| {
            crossing
                .decision
                .as_ref()
                .is_some_and(|decision| decision.outcome() == Outcome::Refused)
        })
        .await
        .decision
        .unwrap()
    }

    /// The border police's check, once it is refused.
    async fn check_once_refused(&self, check_id: &str) -> TravellerCheck {
        eventually(|| {
            let mut identity = self.identity.clone();
            let check_id = check_id.to_owned();
            async move {
                let check = identity
                    .get_traveller_check(GetTravellerCheckRequest { check_id })
                    .await
                    .ok()?
                    .into_inner()
                    .check?;
                (check.verdict() == Verdict::Refuse).then_some(check)
            }
        })
        .await
    }

    async fn crossing(&mut self, crossing_id: &str) -> Crossing {
        self.crossings
            .get_crossing(GetCrossingRequest {
                crossing_id: crossing_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .crossing
            .unwrap()
    }

    async fn process(&mut self, request: impl IntoRequest<ProcessCrossingRequest>) -> Crossing {
        self.crossings
            .process_crossing(request)
            .await
            .unwrap()
            .into_inner()
            .crossing
            .unwrap()
    }
}

/// A mesh whose gateway abandons a crossing after a second and whose customs never answers,
/// and `request` submitted to it: the crossing it leaves pending.
async fn pending_while_customs_is_down(
    request: ProcessCrossingRequest,
) -> (Mesh, Clients, Crossing) {
    let mesh = mesh_with(|config| {
        config.gateway.abandon_after_ms = 1_000;
        config.gateway.customs_url = format!("http://{}", free_addr());
    })
    .await;
    let mut clients = clients(&mesh).await;
    let mut request = tonic::Request::new(request);
    request.set_timeout(Duration::from_millis(800));
    let pending = clients.process(request).await;
    assert_eq!(pending.status(), CrossingStatus::Pending);
    (mesh, clients, pending)
}

fn record_of(crossing: &Crossing, agency: Agency, subject: &str) -> String {
    crossing
        .decision
        .as_ref()
        .unwrap()
        .findings
        .iter()
        .find(|f| f.agency() == agency && f.subject.starts_with(subject))
        .unwrap_or_else(|| panic!("a finding of {agency:?} on {subject}"))
        .record_id
        .clone()
}

fn passenger() -> Traveller {
    Traveller {
        reference: "passenger".into(),
        document: Some(TravelDocument {
            mrz: PASSENGER.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// 50 kg of cigarettes, which the example risk profiles send to the RED lane (RP-TOBACCO-01).
fn cigarettes() -> GoodsItem {
    GoodsItem {
        description: "Cigarettes".into(),
        commodity_code: "240220".into(),
        origin_country: "SRB".into(),
        quantity: Some(Quantity {
            value: "50000".into(),
            unit: "NAR".into(),
        }),
        net_mass_kg: "50".into(),
        invoice_value: Some(Money {
            currency_code: "EUR".into(),
            amount: "900.00".into(),
        }),
        freight_and_insurance: Some(Money {
            currency_code: "EUR".into(),
            amount: "50.00".into(),
        }),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ees_art_18_a_refused_crossing_refuses_every_entry_invalidates_goods_and_releases_documents()
 {
    let mesh = mesh_with(|_| {}).await;
    let mut clients = clients(&mesh).await;
    // The driver's passport is reported stolen: the border police refuse him (SBC Annex V B).
    clients
        .identity
        .report_document(ReportDocumentRequest {
            request_id: id(),
            report: Some(DocumentReport {
                issuing_state: "SRB".into(),
                document_code: "P".into(),
                document_number: "012345678".into(),
                status: DocumentReportStatus::Stolen.into(),
                source: DocumentReportSource::Sltd.into(),
                reported_on: None,
            }),
        })
        .await
        .unwrap();
    let mut request = lorry();
    request
        .crossing
        .as_mut()
        .unwrap()
        .travellers
        .push(passenger());
    let refused = clients.process(request).await;
    let decision = refused.decision.clone().unwrap();
    assert_eq!(decision.outcome(), Outcome::Refused, "{decision:?}");
    let passenger = decision
        .findings
        .iter()
        .find(|f| f.subject == "travellers[1]")
        .unwrap();
    assert_eq!(
        passenger.verdict(),
        Verdict::Clear,
        "the passenger's own check cleared"
    );
    let passenger_check = passenger.record_id.clone();

    // The passenger turned back with the lorry: the entry record becomes a refusal record.
    let undone = clients.check_once_refused(&passenger_check).await;
    assert!(
        undone
            .reasons
            .iter()
            .any(|reason| reason.refusal_code == decision.refusal_codes[0]),
        "{undone:?}"
    );
    let declaration_id = record_of(&refused, Agency::Customs, "goods");
    eventually(|| {
        let mut customs = clients.customs.clone();
        let declaration_id = declaration_id.clone();
        async move {
            let declaration = customs
                .get_declaration(GetDeclarationRequest { declaration_id })
                .await
                .unwrap()
                .into_inner()
                .declaration
                .unwrap();
            (declaration.status() == DeclarationStatus::Invalidated).then_some(())
        }
    })
    .await;
    let assessment_id = record_of(&refused, Agency::Sanitary, "consignments");
    eventually(|| {
        let mut sanitary = clients.sanitary.clone();
        let assessment_id = assessment_id.clone();
        async move {
            let assessment = sanitary
                .get_assessment(GetAssessmentRequest { assessment_id })
                .await
                .unwrap()
                .into_inner()
                .assessment
                .unwrap();
            (assessment.status() == AssessmentStatus::Released).then_some(())
        }
    })
    .await;
    // The crossing itself stays as decided.
    let stored = clients.crossing(&refused.crossing_id).await;
    assert_eq!(stored.decision.unwrap().outcome(), Outcome::Refused);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crossing_pending_past_its_time_is_abandoned_and_its_entry_undone() {
    let (mesh, clients, pending) = pending_while_customs_is_down(lorry()).await;

    let abandoned = clients
        .crossing_once(&pending.crossing_id, |crossing| {
            crossing.status() == CrossingStatus::Abandoned
        })
        .await;
    assert!(abandoned.decision.is_none());
    // The driver was checked (and his entry recorded) before customs failed; that is undone.
    let identity_db = mesh.data_dir.path();
    eventually(|| async move {
        let refusals = support::count_rows(
            identity_db,
            "identity",
            "ees_records WHERE kind = 'REFUSAL'",
        )
        .await;
        let entries =
            support::count_rows(identity_db, "identity", "ees_records WHERE kind = 'ENTRY'").await;
        (refusals == 1 && entries == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ees_art_35_an_exit_crossing_abandoned_withdraws_the_exit_it_recorded() {
    let mut lorry = lorry();
    let crossing = lorry.crossing.as_mut().unwrap();
    crossing.direction = Direction::Exit.into();
    crossing.consignments.clear();
    let (mesh, clients, pending) = pending_while_customs_is_down(lorry).await;
    let identity_db = mesh.data_dir.path();
    assert_eq!(
        support::count_rows(identity_db, "identity", "ees_records WHERE kind = 'EXIT'").await,
        1,
        "the driver's exit was recorded before customs failed"
    );

    clients
        .crossing_once(&pending.crossing_id, |crossing| {
            crossing.status() == CrossingStatus::Abandoned
        })
        .await;
    // The driver did not leave: the exit is erased, and no refusal takes its place.
    eventually(|| async move {
        let exits =
            support::count_rows(identity_db, "identity", "ees_records WHERE kind = 'EXIT'").await;
        (exits == 0).then_some(())
    })
    .await;
    assert_eq!(
        support::count_rows(identity_db, "identity", "ees_records").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sbc_art_8_and_ucc_art_188_the_second_lines_clear_a_referred_crossing() {
    let mesh = mesh_with(|_| {}).await;
    let mut clients = clients(&mesh).await;
    let pedestrian = example("traveller-bad-check-digit-referred.json");
    let mut request = lorry();
    let crossing = request.crossing.as_mut().unwrap();
    crossing.travellers = pedestrian.crossing.unwrap().travellers;
    crossing.goods = vec![cigarettes()];
    crossing.consignments.clear();
    let referred = clients.process(request).await;
    let decision = referred.decision.clone().unwrap();
    assert_eq!(decision.outcome(), Outcome::Referred);
    assert_eq!(
        decision.referred_to,
        [i32::from(Agency::BorderPolice), i32::from(Agency::Customs)]
    );

    clients
        .identity
        .record_interview_outcome(RecordInterviewOutcomeRequest {
            request_id: id(),
            check_id: record_of(&referred, Agency::BorderPolice, "travellers[0]"),
            officer_id: "officer-12".into(),
            outcome: InterviewOutcome::Admitted.into(),
            refusal_codes: vec![],
            text: String::new(),
        })
        .await
        .unwrap();
    let still_at_customs = clients
        .crossing_once(&referred.crossing_id, |crossing| {
            crossing
                .decision
                .as_ref()
                .is_some_and(|decision| decision.referred_to == [i32::from(Agency::Customs)])
        })
        .await
        .decision
        .unwrap();
    assert_eq!(still_at_customs.outcome(), Outcome::Referred);

    clients
        .customs
        .record_examination(RecordExaminationRequest {
            request_id: id(),
            declaration_id: record_of(&referred, Agency::Customs, "goods"),
            officer_id: "customs-3".into(),
            result: ExaminationResult::Conform.into(),
            findings: String::new(),
        })
        .await
        .unwrap();
    let cleared = clients
        .crossing_once(&referred.crossing_id, |crossing| {
            crossing
                .decision
                .as_ref()
                .is_some_and(|decision| decision.outcome() != Outcome::Referred)
        })
        .await
        .decision
        .unwrap();
    // The cigarettes still owe duty and excise.
    assert_eq!(
        cleared.outcome(),
        Outcome::ClearedWithConditions,
        "{cleared:?}"
    );
    assert!(!cleared.amounts_due.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn ucc_art_198_goods_that_do_not_conform_refuse_the_crossing_and_undo_the_entry() {
    let mesh = mesh_with(|_| {}).await;
    let mut clients = clients(&mesh).await;
    let mut request = lorry();
    let crossing = request.crossing.as_mut().unwrap();
    crossing.goods = vec![cigarettes()];
    crossing.consignments.clear();
    let referred = clients.process(request).await;
    assert_eq!(
        referred.decision.as_ref().unwrap().referred_to,
        [i32::from(Agency::Customs)]
    );
    let driver_check = record_of(&referred, Agency::BorderPolice, "travellers[0]");

    let refused = clients
        .refuse_goods(&referred, "200 kg of cigarettes behind a false wall")
        .await;
    assert_eq!(refused.refusal_codes, Vec::<String>::new());
    let undone = clients.check_once_refused(&driver_check).await;
    assert!(
        undone
            .reasons
            .iter()
            .any(|reason| reason.refusal_code == "I")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_compensation_whose_agency_is_down_is_retried_until_it_is_back() {
    let mut mesh = mesh_with(|_| {}).await;
    let mut clients = clients(&mesh).await;
    let mut request = lorry();
    let crossing = request.crossing.as_mut().unwrap();
    crossing.goods = vec![cigarettes()];
    crossing.consignments.clear();
    let referred = clients.process(request).await;
    let driver_check = record_of(&referred, Agency::BorderPolice, "travellers[0]");

    // The border police's service goes down before customs' second line refuses the goods.
    let identity = mesh.agencies.remove(0);
    let identity_addr = identity.addr;
    drop(identity);
    eventually(|| async move {
        std::net::TcpStream::connect(identity_addr)
            .is_err()
            .then_some(())
    })
    .await;
    clients
        .refuse_goods(&referred, "undeclared cigarettes")
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let open = "saga_steps WHERE step = 'compensate/identity/0' AND state = 'INTENT'";
    assert_eq!(
        support::count_rows(mesh.data_dir.path(), "gateway", open).await,
        1,
        "the refusal record waits for the border police"
    );

    // Back on its address with its database: the open compensation goes through.
    let _identity = eventually(|| {
        let config = mesh.config.clone();
        async move {
            let listener = std::net::TcpListener::bind(identity_addr).ok()?;
            drop(listener);
            Some(support::start(Service::Identity, &config, identity_addr).await)
        }
    })
    .await;
    let undone = clients.check_once_refused(&driver_check).await;
    assert!(
        undone
            .reasons
            .iter()
            .any(|reason| reason.refusal_code == "I")
    );
}
