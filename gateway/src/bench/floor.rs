//! `bordermesh bench storage-floor`: the least durable writing that issue 6's saga allows a
//! crossing, through the stores' own database layer on the four services' own schemas, with
//! no RPC and no rule run, against the bare RPC measured in the same run. A crossing makes
//! `hops` RPCs, each costing at least a bare one, and at least these writes, so its `ratio`
//! in `bench crossing` cannot pass the ceiling this prints.
//!
//! The writes of one floor crossing, each database's in one commit shared with whatever the
//! other callers have queued (group commit):
//! - gateway: the PENDING crossing (whose row stands for the intents of all its steps) and its
//!   audit entry, before any agency is called;
//! - identity (two travellers), customs and sanitary, at once: each answer stored once, as the
//!   response of its idempotency key;
//! - gateway: the decided crossing, its record carrying every step's answer.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use base64::Engine as _;
use bordermesh_kit::{
    config::sqlite_url,
    db::Db,
    idempotency::answer_row,
    storage::{Checkpoints, new_record_id, now_millis},
    writes::{GroupWriter, Statement, WriteBatch},
};

use super::{BenchMesh, BenchStore, HOPS, drive, drop_databases, millis, postgres_database};

/// Sizes in characters of what a standard crossing stores, about those found in the PostgreSQL
/// tables after `bench crossing` on 2026-11-29: the decided crossing's record, and the stored
/// response of a traveller check, a declaration's assessment and a sanitary assessment.
const CROSSING_RECORD: usize = 2_048;
const CHECK_RESPONSE: usize = 344;
const DECLARATION_RESPONSE: usize = 1_000;
const ASSESSMENT_RESPONSE: usize = 800;
/// A SHA-256 in hex: the request digest of an idempotency key, an audit entry's hashes.
const DIGEST: usize = 64;

/// Random text of `length` characters, as incompressible as the encoded records are.
fn random_text(length: usize) -> String {
    let mut bytes = vec![0; length * 3 / 4 + 3];
    fastrand::fill(&mut bytes);
    let mut text = base64::engine::general_purpose::STANDARD.encode(bytes);
    text.truncate(length);
    text
}

/// The four services' databases, each behind its group writer as in the mesh.
struct Databases {
    gateway: GroupWriter,
    identity: GroupWriter,
    customs: GroupWriter,
    sanitary: GroupWriter,
    audit_sequence: AtomicI64,
}

fn remember_answer(scope: &str, response_length: usize) -> Statement {
    answer_row(
        scope,
        &uuid::Uuid::new_v4().to_string(),
        &random_text(DIGEST),
        random_text(response_length),
    )
}

impl Databases {
    async fn floor_crossing(&self) -> anyhow::Result<()> {
        let crossing_id = new_record_id().to_string();
        let now = now_millis();
        let mut accept = WriteBatch::new();
        accept.add(
            Statement::new(
                "INSERT INTO crossings (crossing_id, request_id, crossing_point, direction, \
                 status, outcome, created_at, updated_at, record) \
                 VALUES ($1, $2, 'HR-BAJAKOVO', 'DIRECTION_ENTRY', 'CROSSING_STATUS_PENDING', \
                 'OUTCOME_UNSPECIFIED', $3, $3, $4)",
            )
            .bind(&crossing_id)
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(now)
            .bind(random_text(CROSSING_RECORD)),
        );
        accept.add(
            Statement::new(
                "INSERT INTO audit_log (sequence, at, agency, officer, purpose, action, \
                 crossing_id, previous_hash, hash) \
                 VALUES ($1, $2, 'unstated', 'unstated', 'unstated', 'ProcessCrossing', $3, $4, $5)",
            )
            .bind(self.audit_sequence.fetch_add(1, Ordering::Relaxed))
            .bind(now)
            .bind(&crossing_id)
            .bind(random_text(DIGEST))
            .bind(random_text(DIGEST)),
        );
        self.gateway.commit(accept).await?;

        let mut checks = WriteBatch::new();
        checks.add(remember_answer("identity.CheckTraveller", CHECK_RESPONSE));
        checks.add(remember_answer("identity.CheckTraveller", CHECK_RESPONSE));
        let mut declaration = WriteBatch::new();
        declaration.add(remember_answer(
            "customs.AssessDeclaration",
            DECLARATION_RESPONSE,
        ));
        let mut assessment = WriteBatch::new();
        assessment.add(remember_answer("sanitary.Assess", ASSESSMENT_RESPONSE));
        tokio::try_join!(
            self.identity.commit(checks),
            self.customs.commit(declaration),
            self.sanitary.commit(assessment),
        )?;

        let mut decide = WriteBatch::new();
        decide.add(
            Statement::new(
                "UPDATE crossings SET status = 'CROSSING_STATUS_DECIDED', \
                 outcome = 'OUTCOME_CLEARED', updated_at = $1, record = $2 \
                 WHERE crossing_id = $3",
            )
            .bind(now_millis())
            .bind(random_text(
                CROSSING_RECORD + 2 * CHECK_RESPONSE + DECLARATION_RESPONSE + ASSESSMENT_RESPONSE,
            ))
            .bind(&crossing_id),
        );
        self.gateway.commit(decide).await
    }
}

/// Ticks of CPU the whole machine spent (so a PostgreSQL server's share counts), from
/// `/proc/stat`; `None` where there is no such file.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user, nice, system, irq and softirq; not idle, I/O wait, nor time stolen by the host.
    let busy = [0, 1, 2, 5, 6];
    Some(busy.iter().filter_map(|&i| fields.get(i)).sum())
}

/// Milliseconds of the machine's CPU each of `calls` took since `before` was read.
fn cpu_ms_per_call_since(before: Option<u64>, calls: u64) -> Option<f64> {
    let ticks = machine_busy_ticks()
        .zip(before)
        .map(|(now, before)| now.saturating_sub(before));
    cpu_ms_per_call(ticks, calls)
}

/// Milliseconds of the machine's CPU one call took, over `ticks` clock ticks of 10 ms.
fn cpu_ms_per_call(ticks: Option<u64>, calls: u64) -> Option<f64> {
    ticks
        .filter(|_| calls > 0)
        .map(|ticks| ticks as f64 * 10.0 / calls as f64)
}

pub async fn storage_floor(
    duration: Duration,
    concurrency: usize,
    store: BenchStore,
) -> anyhow::Result<()> {
    let data_dir = tempfile::tempdir()?;
    let open = |name: &'static str, migrations: &'static sqlx::migrate::Migrator| {
        let path = data_dir.path().join(format!("{name}.db"));
        async move {
            let (url, database) = match store {
                BenchStore::Sqlite => (sqlite_url(&path), None),
                BenchStore::Postgres => {
                    let database = postgres_database().await?;
                    (database.url.clone(), Some(database))
                }
            };
            let db = Db::connect(&url, migrations, Checkpoints::Periodic).await?;
            anyhow::Ok((GroupWriter::new(db), database))
        }
    };
    let (gateway, gateway_db) = open("gateway", &crate::MIGRATIONS).await?;
    let (identity, identity_db) = open("identity", &bordermesh_identity::MIGRATIONS).await?;
    let (customs, customs_db) = open("customs", &bordermesh_customs::MIGRATIONS).await?;
    let (sanitary, sanitary_db) = open("sanitary", &bordermesh_sanitary::MIGRATIONS).await?;
    let postgres: Vec<_> = [gateway_db, identity_db, customs_db, sanitary_db]
        .into_iter()
        .flatten()
        .collect();
    let databases = Arc::new(Databases {
        gateway,
        identity,
        customs,
        sanitary,
        audit_sequence: AtomicI64::new(1),
    });
    let floor_call = move || {
        let databases = databases.clone();
        async move { databases.floor_crossing().await }
    };
    drive(Duration::from_secs(1), concurrency, floor_call.clone()).await?;
    let before = machine_busy_ticks();
    let floor = drive(duration, concurrency, floor_call).await?;
    let floor_cpu = cpu_ms_per_call_since(before, floor.calls);

    let mesh = BenchMesh::start(store).await?;
    let before = machine_busy_ticks();
    let echo = mesh.echo(duration, concurrency).await?;
    let echo_cpu = cpu_ms_per_call_since(before, echo.calls);
    mesh.stop().await?;
    drop_databases(postgres).await?;

    let hops = HOPS as f64;
    let by_rate = floor.per_second * hops / echo.per_second;
    let by_cpu = floor_cpu
        .zip(echo_cpu)
        .map(|(floor, echo)| hops * echo / (hops * echo + floor));
    let ceiling = by_cpu.map_or(by_rate, |by_cpu| by_cpu.min(by_rate));
    let cpu_text = |cpu: Option<f64>| cpu.map_or("unknown".to_owned(), |ms| format!("{ms:.3}"));
    println!(
        "bordermesh bench storage-floor: {store:?} store, concurrency {concurrency}, {duration:?} each"
    );
    println!(
        "  a crossing's least writes: {:.1}/s, p50 {:.2} ms, p99 {:.2} ms, {} ms of the machine's CPU each",
        floor.per_second,
        millis(&floor.latency, 0.5),
        millis(&floor.latency, 0.99),
        cpu_text(floor_cpu),
    );
    println!(
        "  echo (grpc.health.v1 Check on the gateway's server): {:.1}/s, {} ms of the machine's CPU each",
        echo.per_second,
        cpu_text(echo_cpu),
    );
    println!(
        "  ceiling of bench crossing's ratio: by rate {by_rate:.3} (floor/s x {HOPS} / echo/s); \
         by CPU {} ({HOPS} echoes / ({HOPS} echoes + the writes))",
        by_cpu.map_or("unknown".to_owned(), |ratio| format!("{ratio:.3}")),
    );
    println!(
        "{}",
        serde_json::json!({
            "store": format!("{store:?}").to_lowercase(),
            "concurrency": concurrency,
            "floor_per_s": (floor.per_second * 10.0).round() / 10.0,
            "floor_cpu_ms": floor_cpu,
            "echo_per_s": (echo.per_second * 10.0).round() / 10.0,
            "echo_cpu_ms": echo_cpu,
            "hops": HOPS,
            "ceiling_ratio": (ceiling * 1000.0).round() / 1000.0,
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use bordermesh_kit::storage::testing;

    use super::*;

    #[test]
    fn random_text_has_the_length_asked_for() {
        for length in [0, 1, DIGEST, CROSSING_RECORD] {
            assert_eq!(random_text(length).len(), length);
        }
    }

    #[test]
    fn cpu_a_call_is_unknown_without_calls_or_ticks() {
        assert_eq!(cpu_ms_per_call(Some(100), 0), None);
        assert_eq!(cpu_ms_per_call(None, 10), None);
        assert_eq!(cpu_ms_per_call(Some(3), 60), Some(0.5));
    }

    #[tokio::test]
    async fn a_floor_crossing_stores_its_rows_on_every_backend() {
        let databases = testing::databases().await.unwrap();
        for database in &databases {
            let open = |migrations| Db::connect(&database.url, migrations, Checkpoints::Periodic);
            // One database holds every table here: the four schemas do not share a name
            // but `idempotency_keys`, which each service keeps.
            let gateway = open(&crate::MIGRATIONS).await.unwrap();
            let floor = Databases {
                gateway: GroupWriter::new(gateway.clone()),
                identity: GroupWriter::new(gateway.clone()),
                customs: GroupWriter::new(gateway.clone()),
                sanitary: GroupWriter::new(gateway.clone()),
                audit_sequence: AtomicI64::new(1),
            };
            floor.floor_crossing().await.unwrap();
            floor.floor_crossing().await.unwrap();
            let (decided,): (i64,) = gateway
                .fetch_one(&Statement::new(
                    "SELECT COUNT(*) FROM crossings WHERE status = 'CROSSING_STATUS_DECIDED'",
                ))
                .await
                .unwrap();
            let (answers,): (i64,) = gateway
                .fetch_one(&Statement::new("SELECT COUNT(*) FROM idempotency_keys"))
                .await
                .unwrap();
            assert_eq!((decided, answers), (2, 8));
        }
    }
}
