//! The audit trail of access to personal data: every read and write is recorded with who and
//! why, the data protection agency can ask who accessed a traveller's records, and
//! `bordermesh audit verify` finds an altered or removed entry.

mod support;

use bordermesh_proto::crossing::v1::{GetCrossingRequest, ListPersonalDataAccessRequest};
use sqlx::{Connection, SqliteConnection};
use support::{bordermesh, lorry, mesh_with};
use tonic::{Code, Request};

fn as_officer<T>(message: T, agency: &str, officer: &str, purpose: &str) -> Request<T> {
    let mut request = Request::new(message);
    let metadata = request.metadata_mut();
    metadata.insert("x-bordermesh-agency", agency.parse().unwrap());
    metadata.insert("x-bordermesh-officer", officer.parse().unwrap());
    metadata.insert("x-bordermesh-purpose", purpose.parse().unwrap());
    request
}

fn verify(data_dir: &std::path::Path) -> (bool, String) {
    bordermesh(&["audit", "verify"], data_dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn accesses_are_recorded_answered_to_the_auditor_and_tampering_is_found() {
    let mesh = mesh_with(|_| {}).await;
    let mut client = mesh.client().await;

    let crossing = client
        .process_crossing(as_officer(
            lorry(),
            "border-police",
            "booth-3",
            "first-line check",
        ))
        .await
        .unwrap()
        .into_inner()
        .crossing
        .unwrap();
    let get = GetCrossingRequest {
        crossing_id: crossing.crossing_id.clone(),
    };
    client
        .get_crossing(as_officer(
            get,
            "customs",
            "officer-17",
            "physical examination",
        ))
        .await
        .unwrap();

    let question = ListPersonalDataAccessRequest {
        issuing_state: "SRB".into(),
        document_number: "012345678".into(),
    };
    let refused = client
        .list_personal_data_access(as_officer(
            question.clone(),
            "customs",
            "officer-17",
            "curiosity",
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let answer = client
        .list_personal_data_access(as_officer(
            question,
            "data-protection",
            "dpo-1",
            "complaint 42",
        ))
        .await
        .unwrap()
        .into_inner();
    let who: Vec<_> = answer
        .accesses
        .iter()
        .map(|a| {
            (
                a.agency.as_str(),
                a.officer.as_str(),
                a.action.as_str(),
                a.purpose.as_str(),
            )
        })
        .collect();
    assert_eq!(
        who,
        [
            (
                "border-police",
                "booth-3",
                "ProcessCrossing",
                "first-line check"
            ),
            (
                "customs",
                "officer-17",
                "GetCrossing",
                "physical examination"
            ),
        ]
    );
    let data_dir = mesh.data_dir;
    drop(mesh.gateway);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let (intact, report) = verify(data_dir.path());
    assert!(intact, "{report}");
    assert!(report.contains("intact: 3 entries"), "{report}");

    let url = bordermesh_kit::config::sqlite_url(&data_dir.path().join("gateway.db"));
    let mut db = SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_log SET officer = 'nobody' WHERE sequence = 2")
        .execute(&mut db)
        .await
        .unwrap();
    let (intact, report) = verify(data_dir.path());
    assert!(!intact);
    assert!(report.contains("entry 2: altered"), "{report}");

    sqlx::query("DELETE FROM audit_log WHERE sequence = 2")
        .execute(&mut db)
        .await
        .unwrap();
    let (intact, report) = verify(data_dir.path());
    assert!(!intact);
    assert!(report.contains("after 1 and before 3: removed"), "{report}");
}
