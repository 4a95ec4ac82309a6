//! The second line: a crossing referred to veterinary inspection is updated, and its watchers
//! told, when the inspector records the result at the border control post.

mod support;

use std::time::Duration;

use bordermesh_proto::{
    common::v1::{Agency, Date, Quantity},
    crossing::v1::{Outcome, WatchCrossingRequest},
    sanitary::v1::{
        Checks, ChedPartI, InspectionOutcome, PresentChedRequest, RecordInspectionResultRequest,
        SubmitChedRequest, sanitary_service_client::SanitaryServiceClient,
    },
};
use chrono::{Datelike, Days, Utc};
use support::{bordermesh, lorry, mesh_with};
use tokio_stream::StreamExt;

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Rewrites a crossing's record as plain base64, as every record was stored before large ones
/// were compressed: the second line must still be able to update it.
async fn store_as_before_compression(data_dir: &std::path::Path, crossing_id: &str) {
    use base64::Engine;
    use sqlx::{Connection, SqliteConnection};
    let url = bordermesh_kit::config::sqlite_url(&data_dir.join("gateway.db"));
    let mut db = SqliteConnection::connect(&url).await.unwrap();
    let (record,): (String,) =
        sqlx::query_as("SELECT record FROM crossings WHERE crossing_id = $1")
            .bind(crossing_id)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert!(
        record.starts_with("lz4:"),
        "a crossing this large is stored compressed"
    );
    let crossing: bordermesh_proto::crossing::v1::Crossing =
        bordermesh_kit::storage::decode_record(&record).unwrap();
    let plain =
        base64::engine::general_purpose::STANDARD.encode(prost::Message::encode_to_vec(&crossing));
    sqlx::query("UPDATE crossings SET record = $1 WHERE crossing_id = $2")
        .bind(plain)
        .bind(crossing_id)
        .execute(&mut db)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_compliant_inspection_clears_the_referred_lorry_with_its_duties_still_due() {
    let mesh = mesh_with(|_| {}).await;
    let mut crossings = mesh.client().await;
    let mut sanitary = SanitaryServiceClient::connect(mesh.config.gateway.sanitary_url.clone())
        .await
        .unwrap();

    let referred = crossings
        .process_crossing(lorry())
        .await
        .unwrap()
        .into_inner()
        .crossing
        .unwrap();
    let decision = referred.decision.clone().unwrap();
    assert_eq!(decision.outcome(), Outcome::Referred);
    let finding = decision
        .findings
        .iter()
        .find(|f| f.agency() == Agency::Sanitary)
        .unwrap()
        .clone();
    let mut watch = crossings
        .watch_crossing(WatchCrossingRequest {
            crossing_id: referred.crossing_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    watch.next().await.unwrap().unwrap();
    store_as_before_compression(mesh.data_dir.path(), &referred.crossing_id).await;

    let arrival = Utc::now()
        .date_naive()
        .checked_add_days(Days::new(7))
        .unwrap();
    let ched = sanitary
        .submit_ched(SubmitChedRequest {
            request_id: id(),
            part_i: Some(ChedPartI {
                commodity_code: "020230".into(),
                species: "Bos taurus".into(),
                origin_country: "ARG".into(),
                quantity: Some(Quantity {
                    value: "18000".into(),
                    unit: "KGM".into(),
                }),
                net_mass_kg: "18000".into(),
                consignor: "Frigorifico del Sur SA".into(),
                consignee: "Meso d.o.o.".into(),
                border_control_post: referred.submission.as_ref().unwrap().crossing_point.clone(),
                expected_arrival: Some(Date {
                    year: arrival.year(),
                    month: arrival.month() as i32,
                    day: arrival.day() as i32,
                }),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .ched
        .unwrap();
    sanitary
        .present_ched(PresentChedRequest {
            request_id: id(),
            reference: ched.reference.clone(),
            assessment_id: finding.record_id.clone(),
            subject: finding.subject.clone(),
        })
        .await
        .unwrap();
    sanitary
        .record_inspection_result(RecordInspectionResultRequest {
            request_id: id(),
            reference: ched.reference,
            inspector_id: "vet-4".into(),
            outcome: InspectionOutcome::Compliant.into(),
            measure: 0,
            checks_performed: Some(Checks {
                documentary: true,
                identity: true,
                physical: true,
            }),
            notes: "temperature and labels in order".into(),
        })
        .await
        .unwrap();

    // The presentation of the CHED is a change too; the inspection result is the one that
    // decides.
    let updated = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let crossing = watch.next().await.unwrap().unwrap().crossing.unwrap();
            if crossing.decision.as_ref().unwrap().outcome() != Outcome::Referred {
                return crossing;
            }
        }
    })
    .await
    .expect("the gateway follows up the referral");
    let decision = updated.decision.unwrap();
    assert_eq!(
        decision.outcome(),
        Outcome::ClearedWithConditions,
        "{}",
        decision.explanation
    );
    assert!(
        decision.conditions.iter().any(|c| c.contains("duties")),
        "{:?}",
        decision.conditions
    );

    // The inspection result is logged with the saga: the updated decision replays.
    let (matches, report) = bordermesh(&["replay", &updated.crossing_id], mesh.data_dir.path());
    assert!(matches, "{report}");
    assert!(report.contains("the decision matches"), "{report}");
}
