//! Storage pools: SQLite is the embedded default, PostgreSQL when a URL says so. Both run the
//! same migrations, written in the SQL the two share (TEXT, BIGINT, `$n` parameters).

use std::{path::Path, str::FromStr, sync::Once, time::Duration};

use anyhow::Context;
use sqlx::{
    AnyPool, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
};

/// Migrations of the tables `kit` owns (idempotency); versions below 1000 belong to `kit`,
/// versions from 1000 on to the service.
static KIT_MIGRATOR: Migrator = sqlx::migrate!("./migrations");

fn install_drivers() {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
}

/// Which engine a URL names, for the few places where they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            anyhow::bail!("database URL must start with sqlite: or postgres:")
        }
    }
}

/// Opens a pool and brings the schema up to date: `kit`'s tables, then the service's.
pub async fn connect(url: &str, service_migrations: &Migrator) -> anyhow::Result<AnyPool> {
    install_drivers();
    let backend = Backend::of(url)?;
    if backend == Backend::Sqlite {
        create_sqlite_parent(url)?;
    }
    let options = AnyConnectOptions::from_str(url).context("parsing the database URL")?;
    let pool = AnyPoolOptions::new()
        .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |connection, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers work while one writer commits; a writer waits, not fails.
                    connection
                        .execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;")
                        .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .with_context(|| format!("connecting to the {backend:?} database"))?;
    migrate(&pool, &KIT_MIGRATOR).await?;
    migrate(&pool, service_migrations).await?;
    if backend == Backend::Sqlite {
        checkpoint_in_background(pool.clone());
    }
    Ok(pool)
}

/// How often the SQLite write-ahead log is checkpointed off the request path.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(50);

/// SQLite checkpoints its write-ahead log every 1,000 pages inside the commit that crosses the
/// mark, which then takes ten times longer than the others. Checkpointing often from a
/// background task keeps the log short, so commits seldom cross the mark themselves. The task
/// ends when the pool is closed.
fn checkpoint_in_background(pool: AnyPool) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(CHECKPOINT_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if pool.is_closed() {
                return;
            }
            if let Err(error) = pool.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
                tracing::warn!(%error, "background checkpoint failed");
            }
        }
    });
}

async fn migrate(pool: &AnyPool, migrator: &Migrator) -> anyhow::Result<()> {
    let mut migrator = Migrator {
        migrations: migrator.migrations.clone(),
        ..Migrator::DEFAULT
    };
    // Kit and service migrations share one history table; each ignores the other's entries.
    migrator.set_ignore_missing(true);
    migrator.run(pool).await.context("running migrations")
}

fn create_sqlite_parent(url: &str) -> anyhow::Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the data directory {}", parent.display()))?;
    }
    Ok(())
}

/// A protobuf record as stored in a TEXT column (base64), the same on both engines.
pub fn encode_record(message: &impl prost::Message) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(message.encode_to_vec())
}

pub fn decode_record<T: prost::Message + Default>(text: &str) -> anyhow::Result<T> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(text)?;
    Ok(T::decode(bytes.as_slice())?)
}

/// Reads one encoded record; `query` selects a single TEXT column by one `$1` parameter.
pub async fn fetch_record<T: prost::Message + Default>(
    pool: &AnyPool,
    query: &str,
    key: &str,
) -> anyhow::Result<Option<T>> {
    let row: Option<(String,)> = sqlx::query_as(query).bind(key).fetch_optional(pool).await?;
    row.map(|(text,)| decode_record(&text)).transpose()
}

/// Milliseconds since the Unix epoch, as stored in BIGINT columns.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Databases for store tests: always a fresh SQLite file, and a fresh PostgreSQL database when
/// `BORDERMESH_TEST_POSTGRES_URL` is set, so every store test proves both engines.
pub mod testing {
    use sqlx::{AnyConnection, Connection, Executor};
    use tempfile::TempDir;

    /// The variable CI sets to a PostgreSQL server URL for store tests.
    pub const POSTGRES_URL_VAR: &str = "BORDERMESH_TEST_POSTGRES_URL";

    /// One test database; the SQLite directory goes away on drop.
    pub struct TestDatabase {
        pub url: String,
        pub backend: super::Backend,
        _dir: Option<TempDir>,
    }

    /// Every database the store tests must pass on here.
    pub async fn databases() -> anyhow::Result<Vec<TestDatabase>> {
        let mut databases = vec![sqlite()?];
        if let Ok(server) = std::env::var(POSTGRES_URL_VAR) {
            databases.push(postgres(&server).await?);
        }
        Ok(databases)
    }

    pub fn sqlite() -> anyhow::Result<TestDatabase> {
        let dir = tempfile::tempdir()?;
        Ok(TestDatabase {
            url: super::super::config::sqlite_url(&dir.path().join("test.db")),
            backend: super::Backend::Sqlite,
            _dir: Some(dir),
        })
    }

    /// A new, empty database on the server, named uniquely so that tests run in parallel.
    pub async fn postgres(server_url: &str) -> anyhow::Result<TestDatabase> {
        super::install_drivers();
        let name = format!("bmtest_{}", uuid::Uuid::new_v4().simple());
        let mut admin = AnyConnection::connect(server_url).await?;
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await?;
        admin.close().await?;
        let base = server_url.split('?').next().unwrap_or(server_url);
        let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
        Ok(TestDatabase {
            url: format!("{base}/{name}"),
            backend: super::Backend::Postgres,
            _dir: None,
        })
    }
}
