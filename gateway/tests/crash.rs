//! `kill -9` of the gateway in the middle of a thousand crossings, then a restart: every
//! accepted crossing ends decided, and no crossing or agency record exists twice. Runs with the
//! gateway's store on SQLite, and on PostgreSQL when BORDERMESH_TEST_POSTGRES_URL is set.

mod support;

use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bordermesh_kit::{config::Config, storage::testing};
use bordermesh_proto::crossing::v1::{
    CrossingStatus, ProcessCrossingRequest, crossing_service_client::CrossingServiceClient,
};
use futures::{StreamExt, stream};
use support::{BINARY, agencies, config, count_rows, free_addr, lorry};

const CROSSINGS: usize = 1000;
const CONCURRENCY: usize = 16;

/// The gateway's own log, kept beside its files so that a failure can quote it.
fn gateway_log(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("gateway.log")
}

fn spawn_gateway(config: &Config, addr: std::net::SocketAddr, database_url: &str) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(gateway_log(config))
        .unwrap();
    Command::new(BINARY)
        .args(["serve", "gateway", "--data-dir"])
        .arg(&config.data_dir)
        .env("BORDERMESH_GATEWAY__LISTEN", addr.to_string())
        .env("BORDERMESH_GATEWAY__DATABASE_URL", database_url)
        .env(
            "BORDERMESH_GATEWAY__IDENTITY_URL",
            &config.gateway.identity_url,
        )
        .env(
            "BORDERMESH_GATEWAY__CUSTOMS_URL",
            &config.gateway.customs_url,
        )
        .env(
            "BORDERMESH_GATEWAY__SANITARY_URL",
            &config.gateway.sanitary_url,
        )
        .env("BORDERMESH_GATEWAY__RECOVERY_INTERVAL_MS", "200")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap()
}

async fn connect(addr: std::net::SocketAddr) -> CrossingServiceClient<tonic::transport::Channel> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(client) = CrossingServiceClient::connect(format!("http://{addr}")).await {
            return client;
        }
        assert!(Instant::now() < deadline, "the gateway never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends every request once; answers which ones the caller never got an answer to, and why.
async fn send_all(
    client: &CrossingServiceClient<tonic::transport::Channel>,
    requests: &[ProcessCrossingRequest],
    answered: &AtomicUsize,
) -> Vec<(ProcessCrossingRequest, tonic::Status)> {
    stream::iter(requests.iter().cloned())
        .map(|request| {
            let mut client = client.clone();
            async move {
                let outcome = client.process_crossing(request.clone()).await;
                (request, outcome)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|(request, outcome)| async move {
            match outcome {
                Ok(_) => {
                    answered.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Err(status) => Some((request, status)),
            }
        })
        .collect()
        .await
}

async fn crash_and_recover(database_url: &str, data_dir: &std::path::Path, check_sqlite: bool) {
    let mut config = config(data_dir);
    let _agencies = agencies(&mut config).await;
    let addr = free_addr();
    let mut gateway = spawn_gateway(&config, addr, database_url);
    let client = connect(addr).await;

    let requests: Vec<_> = (0..CROSSINGS).map(|_| lorry()).collect();
    let answered = Arc::new(AtomicUsize::new(0));
    let sending = {
        let client = client.clone();
        let requests = requests.clone();
        let answered = answered.clone();
        tokio::spawn(async move { send_all(&client, &requests, &answered).await })
    };
    while answered.load(Ordering::Relaxed) < CROSSINGS / 5 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gateway.kill().unwrap();
    gateway.wait().unwrap();
    let unanswered: Vec<_> = sending
        .await
        .unwrap()
        .into_iter()
        .map(|(request, _)| request)
        .collect();
    assert!(!unanswered.is_empty(), "the kill cut some crossings short");

    let mut gateway = spawn_gateway(&config, addr, database_url);
    let mut client = connect(addr).await;
    let retried = Arc::new(AtomicUsize::new(0));
    let still_unanswered = send_all(&client, &unanswered, &retried).await;
    if let Some((_, status)) = still_unanswered.first() {
        let log = std::fs::read_to_string(gateway_log(&config)).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        panic!(
            "{} retries failed, the first with {:?}: {}\nthe gateway's log ends:\n{}",
            still_unanswered.len(),
            status.code(),
            status.message(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }

    // Every crossing the gateway accepted is finished by the caller's retry or by recovery.
    let deadline = Instant::now() + Duration::from_secs(60);
    for request in &requests {
        loop {
            let crossing = client
                .process_crossing(request.clone())
                .await
                .unwrap()
                .into_inner()
                .crossing
                .unwrap();
            if crossing.status() == CrossingStatus::Decided {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "crossing {} stayed pending",
                crossing.crossing_id
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    gateway.kill().unwrap();
    gateway.wait().unwrap();

    for (service, table) in [
        ("identity", "traveller_checks"),
        ("customs", "declarations"),
        ("sanitary", "assessments"),
    ] {
        assert_eq!(
            count_rows(data_dir, service, table).await,
            CROSSINGS as i64,
            "{table}: one record per crossing"
        );
    }
    if check_sqlite {
        assert_eq!(
            count_rows(data_dir, "gateway", "crossings").await,
            CROSSINGS as i64
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_saga_loses_and_doubles_nothing_on_sqlite() {
    let data_dir = tempfile::tempdir().unwrap();
    let url = bordermesh_kit::config::sqlite_url(&data_dir.path().join("gateway.db"));
    crash_and_recover(&url, data_dir.path(), true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_saga_loses_and_doubles_nothing_on_postgres() {
    let Ok(server) = std::env::var(testing::POSTGRES_URL_VAR) else {
        eprintln!(
            "{} is not set: the PostgreSQL run is skipped",
            testing::POSTGRES_URL_VAR
        );
        return;
    };
    let database = testing::postgres(&server).await.unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    crash_and_recover(&database.url, data_dir.path(), false).await;
}
