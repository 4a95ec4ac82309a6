//! The saga under failure: an agency down, a caller whose deadline passes mid-saga, a storm of
//! retries; each crossing ends decided, once.

mod support;

use std::time::{Duration, Instant};

use bordermesh_gateway::mesh::Service;
use bordermesh_proto::crossing::v1::{
    CrossingStatus, GetCrossingRequest, ListCrossingsRequest, Outcome, WatchCrossingRequest,
};
use support::{count_rows, free_addr, lorry, mesh_with, start};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

#[tokio::test]
async fn a_crossing_waits_pending_while_customs_is_down_and_completes_when_it_returns() {
    let customs_addr = free_addr();
    let mesh = mesh_with(|config| {
        config.gateway.customs_url = format!("http://{customs_addr}");
        config.gateway.default_deadline_ms = 1_000;
    })
    .await;
    let mut client = mesh.client().await;

    let request = lorry();
    let pending = client
        .process_crossing(request.clone())
        .await
        .unwrap()
        .into_inner()
        .crossing
        .unwrap();
    assert_eq!(pending.status(), CrossingStatus::Pending);
    assert!(pending.decision.is_none());

    let mut watch = client
        .watch_crossing(WatchCrossingRequest {
            crossing_id: pending.crossing_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap().crossing.unwrap();
    assert_eq!(first.status(), CrossingStatus::Pending);

    let _customs = start(Service::Customs, &mesh.config, customs_addr).await;
    let decided = tokio::time::timeout(Duration::from_secs(20), watch.next())
        .await
        .expect("the recovery loop finishes the crossing")
        .unwrap()
        .unwrap()
        .crossing
        .unwrap();
    assert_eq!(decided.status(), CrossingStatus::Decided);
    assert_eq!(decided.crossing_id, pending.crossing_id);
    assert_eq!(
        decided.decision.as_ref().unwrap().outcome(),
        Outcome::Referred
    );

    let again = client
        .process_crossing(request)
        .await
        .unwrap()
        .into_inner()
        .crossing
        .unwrap();
    assert_eq!(again, decided);
    assert_eq!(
        count_rows(mesh.data_dir.path(), "identity", "traveller_checks").await,
        1
    );
    assert_eq!(
        count_rows(mesh.data_dir.path(), "customs", "declarations").await,
        1
    );
}

#[tokio::test]
async fn a_caller_whose_deadline_passes_mid_saga_gets_the_one_crossing_on_retry() {
    let mesh = mesh_with(|_| {}).await;
    let mut client = mesh.client().await;

    let mut abandoned = Vec::new();
    for _ in 0..10 {
        let request = lorry();
        let mut hurried = tonic::Request::new(request.clone());
        hurried.set_timeout(Duration::from_millis(1));
        if client.process_crossing(hurried).await.is_err() {
            abandoned.push(request);
        }
    }
    assert!(
        !abandoned.is_empty(),
        "a 1 ms deadline cuts some crossings short"
    );

    let started = Instant::now();
    for request in &abandoned {
        let crossing = loop {
            let crossing = client
                .process_crossing(request.clone())
                .await
                .unwrap()
                .into_inner()
                .crossing
                .unwrap();
            if crossing.status() == CrossingStatus::Decided
                || started.elapsed() > Duration::from_secs(20)
            {
                break crossing;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(crossing.status(), CrossingStatus::Decided);
        let read = client
            .get_crossing(GetCrossingRequest {
                crossing_id: crossing.crossing_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .crossing
            .unwrap();
        assert_eq!(read, crossing);
    }
    for (service, table) in [
        ("gateway", "crossings"),
        ("identity", "traveller_checks"),
        ("customs", "declarations"),
        ("sanitary", "assessments"),
    ] {
        assert!(
            count_rows(mesh.data_dir.path(), service, table).await <= 10,
            "{table} has doubles"
        );
    }
}

#[tokio::test]
async fn crossings_are_listed_a_page_at_a_time() {
    let mesh = mesh_with(|_| {}).await;
    let mut client = mesh.client().await;
    for _ in 0..5 {
        client.process_crossing(lorry()).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_crossings(ListCrossingsRequest {
                crossing_point: "HR-BAJAKOVO".into(),
                page_size: 2,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.crossings.len() <= 2);
        seen.extend(page.crossings.into_iter().map(|c| c.crossing_id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(seen.len(), 5);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5);

    let foreign_token = client
        .list_crossings(ListCrossingsRequest {
            crossing_point: "SI-OBREZJE".into(),
            page_size: 2,
            page_token: "bm90IGEgdG9rZW4".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(foreign_token.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn a_rejected_crossing_is_rejected_again_on_retry() {
    let mesh = mesh_with(|_| {}).await;
    let mut client = mesh.client().await;
    let mut request = lorry();
    request.crossing.as_mut().unwrap().goods[0].commodity_code = "02023".into();
    for _ in 0..2 {
        let status = client.process_crossing(request.clone()).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status
                .message()
                .contains("crossing.goods[0].commodity_code"),
            "{}",
            status.message()
        );
    }
    assert_eq!(
        count_rows(mesh.data_dir.path(), "gateway", "crossings").await,
        1
    );
}

#[tokio::test]
async fn an_overloaded_gateway_sheds_load_with_resource_exhausted_and_stays_healthy() {
    let mesh = mesh_with(|config| config.max_concurrent_calls = 2).await;
    let client = mesh.client().await;
    let calls = (0..32).map(|_| {
        let mut client = client.clone();
        async move { client.process_crossing(lorry()).await }
    });
    let answers = futures::future::join_all(calls).await;
    let shed = answers
        .iter()
        .filter(|a| {
            a.as_ref()
                .is_err_and(|s| s.code() == tonic::Code::ResourceExhausted)
        })
        .count();
    let served = answers.iter().filter(|a| a.is_ok()).count();
    assert!(shed > 0, "32 calls at once exceed a capacity of 2");
    assert!(served > 0);
    assert_eq!(
        shed + served,
        32,
        "every call is served or shed, nothing else"
    );

    let channel = Channel::from_shared(format!("http://{}", mesh.gateway.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
}
