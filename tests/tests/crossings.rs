//! The example crossings through the whole mesh, idempotency, and readback.

use bordermesh_proto::{
    common::v1::Agency,
    crossing::v1::{CrossingStatus, GetCrossingRequest, Outcome, ProcessCrossingRequest},
};
use bordermesh_tests::{TestMesh, example};
use sqlx::{Connection, SqliteConnection};

fn fresh_id(mut request: ProcessCrossingRequest) -> ProcessCrossingRequest {
    request.request_id = uuid::Uuid::new_v4().to_string();
    request
}

#[tokio::test]
async fn the_tourist_car_is_cleared() {
    let mesh = TestMesh::start().await;
    let crossing = mesh
        .crossings()
        .await
        .process_crossing(example("tourist-car-cleared.json"))
        .await
        .unwrap()
        .into_inner()
        .crossing
        .unwrap();
    assert_eq!(crossing.status(), CrossingStatus::Decided);
    let decision = crossing.decision.unwrap();
    assert_eq!(
        decision.outcome(),
        Outcome::Cleared,
        "{}",
        decision.explanation
    );
    assert_eq!(decision.findings.len(), 2);
}

#[tokio::test]
async fn the_lorry_of_frozen_meat_is_referred_to_veterinary_checks_with_duties_due() {
    let mesh = TestMesh::start().await;
    let crossing = mesh
        .crossings()
        .await
        .process_crossing(example("lorry-frozen-meat-referred.json"))
        .await
        .unwrap()
        .into_inner()
        .crossing
        .unwrap();
    let decision = crossing.decision.unwrap();
    assert_eq!(
        decision.outcome(),
        Outcome::Referred,
        "{}",
        decision.explanation
    );
    assert_eq!(decision.referred_to, [i32::from(Agency::Sanitary)]);
    let sanitary_codes: Vec<_> = decision
        .findings
        .iter()
        .filter(|f| f.agency() == Agency::Sanitary)
        .flat_map(|f| f.reasons.iter().map(|r| r.code.as_str()))
        .collect();
    assert!(
        sanitary_codes.contains(&"CHED_P_REQUIRED"),
        "{sanitary_codes:?}"
    );
    // CIF 41,500.00 at 12.8 % = 5,312.00 duty; VAT 22 % of 46,812.00 = 10,298.64.
    assert_eq!(decision.amounts_due.len(), 1);
    assert_eq!(decision.amounts_due[0].amount, "15610.64");
    let customs = decision
        .findings
        .iter()
        .find(|f| f.agency() == Agency::Customs)
        .unwrap();
    assert!(
        customs
            .reasons
            .iter()
            .all(|r| r.code != "CLASSIFICATION_UNVERIFIED"),
        "the nomenclature is configured, so 020230 is verified"
    );
}

#[tokio::test]
async fn a_wrong_check_digit_is_referred_naming_the_failing_field() {
    let mesh = TestMesh::start().await;
    let crossing = mesh
        .crossings()
        .await
        .process_crossing(example("traveller-bad-check-digit-referred.json"))
        .await
        .unwrap()
        .into_inner()
        .crossing
        .unwrap();
    let decision = crossing.decision.unwrap();
    assert_eq!(decision.outcome(), Outcome::Referred);
    assert_eq!(decision.referred_to, [i32::from(Agency::BorderPolice)]);
    let reasons = &decision.findings[0].reasons;
    assert_eq!(reasons[0].code, "MRZ_CHECK_DIGIT");
    assert_eq!(reasons[0].subject, "travellers[0].document.mrz");
    assert!(
        reasons[0].message.contains("document_number"),
        "{}",
        reasons[0].message
    );
}

#[tokio::test]
async fn the_same_request_id_gives_the_same_crossing_stored_once() {
    let mesh = TestMesh::start().await;
    let mut client = mesh.crossings().await;
    let request = fresh_id(example("lorry-frozen-meat-referred.json"));
    let first = client
        .process_crossing(request.clone())
        .await
        .unwrap()
        .into_inner()
        .crossing
        .unwrap();
    let second = client
        .process_crossing(request.clone())
        .await
        .unwrap()
        .into_inner()
        .crossing
        .unwrap();
    assert_eq!(first, second);

    let storm = fresh_id(example("tourist-car-cleared.json"));
    let copies = (0..8).map(|_| {
        let mut client = client.clone();
        let storm = storm.clone();
        async move {
            client
                .process_crossing(storm)
                .await
                .unwrap()
                .into_inner()
                .crossing
                .unwrap()
        }
    });
    let answers = futures::future::join_all(copies).await;
    assert!(answers.iter().all(|answer| *answer == answers[0]));

    let read = client
        .get_crossing(GetCrossingRequest {
            crossing_id: first.crossing_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .crossing
        .unwrap();
    assert_eq!(read, first);

    let url = bordermesh_kit::config::sqlite_url(&mesh.data_dir.path().join("gateway.db"));
    let mut db = SqliteConnection::connect(&url).await.unwrap();
    for request_id in [&request.request_id, &storm.request_id] {
        let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM crossings WHERE request_id = ?")
            .bind(request_id)
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert_eq!(rows, 1);
    }
}
