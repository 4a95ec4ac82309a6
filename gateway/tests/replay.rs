//! `bordermesh replay` recomputes a crossing's decision from the recorded answers, and notices
//! when a recorded input was changed.

mod support;

use bordermesh_kit::storage::{decode_record, encode_record};
use bordermesh_proto::{common::v1::Verdict, customs::v1::AssessDeclarationResponse};
use sqlx::{Connection, SqliteConnection};
use support::{bordermesh, lorry, mesh_with};

fn replay(data_dir: &std::path::Path, crossing_id: &str) -> (bool, String) {
    bordermesh(&["replay", crossing_id], data_dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_decision_matches_until_a_recorded_answer_is_changed() {
    let mesh = mesh_with(|_| {}).await;
    let mut client = mesh.client().await;
    let crossing = client
        .process_crossing(lorry())
        .await
        .unwrap()
        .into_inner()
        .crossing
        .unwrap();
    let decision = crossing.decision.unwrap();
    assert_eq!(decision.inputs_digest.len(), 64);
    let rule_sets: Vec<_> = decision.rule_sets.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        rule_sets,
        ["bordermesh.gateway.decision", "bordermesh.customs.risk"]
    );
    let data_dir = mesh.data_dir;
    drop(mesh.gateway);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let (matches, report) = replay(data_dir.path(), &crossing.crossing_id);
    assert!(matches, "{report}");
    assert!(report.contains("the decision matches"), "{report}");

    let url = bordermesh_kit::config::sqlite_url(&data_dir.path().join("gateway.db"));
    let mut db = SqliteConnection::connect(&url).await.unwrap();
    let (saved,): (String,) = sqlx::query_as(
        "SELECT response FROM saga_steps WHERE crossing_id = ? AND step = 'customs'",
    )
    .bind(&crossing.crossing_id)
    .fetch_one(&mut db)
    .await
    .unwrap();
    let mut answer: AssessDeclarationResponse = decode_record(&saved).unwrap();
    answer.declaration.as_mut().unwrap().verdict = Verdict::Clear.into();
    sqlx::query("UPDATE saga_steps SET response = ? WHERE crossing_id = ? AND step = 'customs'")
        .bind(encode_record(&answer))
        .bind(&crossing.crossing_id)
        .execute(&mut db)
        .await
        .unwrap();
    let (matches, report) = replay(data_dir.path(), &crossing.crossing_id);
    assert!(!matches);
    assert!(report.contains("recorded inputs changed"), "{report}");
}
