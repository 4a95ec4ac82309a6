//! `bordermesh bench crossing`: the whole mesh on loopback, standard crossings (2 travellers,
//! 5 goods items, 1 consignment) through the gateway, and in the same run a bare unary RPC
//! (grpc.health.v1 Check) through the same server stack, to say what a crossing costs against
//! the RPCs it makes.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use bordermesh_identity::domain::mrz::check_digit;
use bordermesh_kit::{config::Config, storage::testing};
use bordermesh_proto::{
    common::v1::{Money, Quantity},
    crossing::v1::{
        CrossingStatus, ProcessCrossingRequest, crossing_service_client::CrossingServiceClient,
    },
    customs::v1::GoodsItem,
    identity::v1::{TravelDocument, Traveller},
};
use hdrhistogram::Histogram;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::mesh;

mod floor;

pub use floor::storage_floor;

/// RPCs one standard crossing makes: the caller's, two identity checks, customs, sanitary.
const HOPS: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchStore {
    Sqlite,
    Postgres,
}

const PASSENGER: &str =
    "P<NZLWILLIAMS<<AROHA<<<<<<<<<<<<<<<<<<<<<<<<\nLM01234568NZL9503308F3201174<<<<<<<<<<<<<<<2";

fn standard_crossing() -> anyhow::Result<ProcessCrossingRequest> {
    let lorry = include_str!("../../examples/crossings/lorry-frozen-meat-referred.json");
    let mut request = crate::cli::read_request(lorry)?;
    let crossing = request
        .crossing
        .as_mut()
        .context("example has a crossing")?;
    crossing.travellers.push(Traveller {
        reference: "co-driver".into(),
        document: Some(TravelDocument {
            mrz: PASSENGER.into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    let goods = [
        ("Frozen boneless beef", "020230", "KGM"),
        ("Tractor parts", "870899", "KGM"),
        ("Laptops", "847130", "NAR"),
        ("Cotton T-shirts", "610910", "NAR"),
        ("Red wine in bottles", "220421", "LTR"),
    ];
    crossing.goods = goods
        .iter()
        .map(|(description, code, unit)| GoodsItem {
            description: (*description).into(),
            commodity_code: (*code).into(),
            origin_country: "SRB".into(),
            quantity: Some(Quantity {
                value: "100".into(),
                unit: (*unit).into(),
            }),
            net_mass_kg: "100".into(),
            invoice_value: Some(Money {
                currency_code: "EUR".into(),
                amount: "1000.00".into(),
            }),
            freight_and_insurance: Some(Money {
                currency_code: "EUR".into(),
                amount: "50.00".into(),
            }),
        })
        .collect();
    Ok(request)
}

/// A TD3 machine readable zone with another document number and the check digits that go with
/// it (ICAO 9303 Part 4 §4.2.2): a bench crossing presents travellers never seen before, as a
/// border does, instead of one traveller entering thousands of times a day.
fn with_document_number(mrz: &str, number: u64) -> anyhow::Result<String> {
    let (names, data) = mrz.split_once('\n').context("a TD3 zone has two lines")?;
    anyhow::ensure!(data.len() == 44, "a TD3 data line has 44 characters");
    let document = format!("{number:09}");
    let mut line = format!("{document}{}", check_digit(&document));
    line.push_str(&data[10..43]);
    let composite = format!("{}{}{}", &line[0..10], &line[13..20], &line[21..43]);
    line.push(check_digit(&composite));
    Ok(format!("{names}\n{line}"))
}

struct Measured {
    calls: u64,
    per_second: f64,
    latency: Histogram<u64>,
}

/// Runs `call` from `concurrency` tasks for `duration`; latencies in microseconds.
async fn drive<F, Fut>(duration: Duration, concurrency: usize, call: F) -> anyhow::Result<Measured>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let latency = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = call.clone();
            let latency = latency.clone();
            tokio::spawn(async move {
                let mut own = Histogram::<u64>::new(3)?;
                while started.elapsed() < duration {
                    let began = Instant::now();
                    call().await?;
                    own.record(began.elapsed().as_micros() as u64)?;
                }
                latency.lock().await.add(own)?;
                anyhow::Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let latency = Arc::try_unwrap(latency)
        .map_err(|_| anyhow::anyhow!("a worker still holds the histogram"))?
        .into_inner();
    Ok(Measured {
        calls: latency.len(),
        per_second: latency.len() as f64 / elapsed,
        latency,
    })
}

fn millis(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

/// The mesh on loopback for a bench, on `store`: its gateway's channel, and what to stop and
/// remove when the bench is done.
struct BenchMesh {
    gateway: Channel,
    shutdown: CancellationToken,
    databases: Vec<testing::TestDatabase>,
    _data_dir: tempfile::TempDir,
}

impl BenchMesh {
    async fn start(store: BenchStore) -> anyhow::Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let mut config = Config {
            data_dir: data_dir.path().to_path_buf(),
            log: "warn".into(),
            ..Config::default()
        };
        let any_port = "127.0.0.1:0".parse()?;
        config.gateway.listen = any_port;
        config.identity.listen = any_port;
        config.customs.listen = any_port;
        config.sanitary.listen = any_port;
        config.max_concurrent_calls = 100_000;
        let mut databases = Vec::new();
        if store == BenchStore::Postgres {
            for slot in [
                &mut config.gateway.database_url,
                &mut config.identity.database_url,
                &mut config.customs.database_url,
                &mut config.sanitary.database_url,
            ] {
                let database = postgres_database().await?;
                *slot = Some(database.url.clone());
                databases.push(database);
            }
        }
        let shutdown = CancellationToken::new();
        let running = mesh::start(config, shutdown.clone()).await?;
        let gateway = Channel::from_shared(format!("http://{}", running.gateway))?
            .tcp_nodelay(true)
            .connect()
            .await?;
        tokio::spawn(running.wait(shutdown.clone()));
        Ok(Self {
            gateway,
            shutdown,
            databases,
            _data_dir: data_dir,
        })
    }

    /// The bare RPC: grpc.health.v1 Check on the gateway's own server stack.
    async fn echo(&self, duration: Duration, concurrency: usize) -> anyhow::Result<Measured> {
        let health = HealthClient::new(self.gateway.clone());
        let echo_call = move || {
            let mut client = health.clone();
            async move {
                client.check(HealthCheckRequest::default()).await?;
                Ok(())
            }
        };
        drive(duration, concurrency, echo_call).await
    }

    /// Stops the mesh and removes the PostgreSQL databases it used.
    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        drop_databases(self.databases).await
    }
}

/// A new database on the PostgreSQL server the tests use, or on the local default.
async fn postgres_database() -> anyhow::Result<testing::TestDatabase> {
    testing::postgres(&postgres_server()).await
}

fn postgres_server() -> String {
    std::env::var(testing::POSTGRES_URL_VAR)
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn drop_databases(databases: Vec<testing::TestDatabase>) -> anyhow::Result<()> {
    let server = postgres_server();
    for database in databases {
        testing::drop_postgres(&server, &database).await?;
    }
    Ok(())
}

pub async fn crossing(
    duration: Duration,
    concurrency: usize,
    store: BenchStore,
) -> anyhow::Result<()> {
    let mesh = BenchMesh::start(store).await?;
    let template = standard_crossing()?;
    let crossings = CrossingServiceClient::new(mesh.gateway.clone());
    let travellers_seen = Arc::new(AtomicU64::new(0));
    let crossing_call = move || {
        let mut client = crossings.clone();
        let mut request = template.clone();
        request.request_id = uuid::Uuid::new_v4().to_string();
        let renumbered = request
            .crossing
            .iter_mut()
            .flat_map(|c| &mut c.travellers)
            .try_for_each(|traveller| {
                let number = travellers_seen.fetch_add(1, Ordering::Relaxed);
                if let Some(document) = traveller.document.as_mut() {
                    document.mrz = with_document_number(&document.mrz, number)?;
                }
                anyhow::Ok(())
            });
        async move {
            renumbered?;
            let crossing = client
                .process_crossing(request)
                .await?
                .into_inner()
                .crossing;
            anyhow::ensure!(
                crossing.is_some_and(|c| c.status() == CrossingStatus::Decided),
                "a crossing was not decided"
            );
            Ok(())
        }
    };
    // Warm up connections, pools and caches before measuring.
    drive(Duration::from_secs(1), concurrency, crossing_call.clone()).await?;
    let crossings = drive(duration, concurrency, crossing_call).await?;
    let echo = mesh.echo(duration, concurrency).await?;
    mesh.stop().await?;

    let ratio = crossings.per_second * HOPS as f64 / echo.per_second;
    println!(
        "bordermesh bench crossing: {store:?} store, concurrency {concurrency}, {duration:?} each"
    );
    println!(
        "  crossings: {} in {:?}: {:.1}/s, p50 {:.2} ms, p99 {:.2} ms",
        crossings.calls,
        duration,
        crossings.per_second,
        millis(&crossings.latency, 0.5),
        millis(&crossings.latency, 0.99)
    );
    println!(
        "  echo (grpc.health.v1 Check on the gateway's server): {:.1}/s, p50 {:.3} ms",
        echo.per_second,
        millis(&echo.latency, 0.5)
    );
    println!("  ratio = crossings/s x {HOPS} hops / echo/s = {ratio:.3} (target >= 0.5)");
    println!(
        "{}",
        serde_json::json!({
            "store": format!("{store:?}").to_lowercase(),
            "concurrency": concurrency,
            "crossings_per_s": (crossings.per_second * 10.0).round() / 10.0,
            "p50_ms": millis(&crossings.latency, 0.5),
            "p99_ms": millis(&crossings.latency, 0.99),
            "echo_per_s": (echo.per_second * 10.0).round() / 10.0,
            "hops": HOPS,
            "ratio": (ratio * 1000.0).round() / 1000.0,
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icao_9303_part_4_renumbered_zones_keep_every_check_digit_valid() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        for number in [0, 7, 123_456_789] {
            let mrz = with_document_number(PASSENGER, number).unwrap();
            let parsed = bordermesh_identity::domain::mrz::parse(&mrz, today).unwrap();
            assert_eq!(parsed.document_number, format!("{number:09}"));
            assert!(
                parsed.check_digits.iter().all(|digit| digit.is_valid()),
                "{mrz}"
            );
        }
    }
}
