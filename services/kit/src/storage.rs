//! What the stores share besides [`crate::db`]: which engine a URL names, the migrations (run
//! through a sqlx pool on both engines, in the SQL the two share: TEXT, BIGINT, `$n`
//! parameters), the pace of SQLite's background checkpoint, and how records are encoded.

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

/// How long SQLite waits, in its own sleeping busy handler, for a lock another process holds.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How a SQLite database's background checkpoint paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoints {
    /// Every 10 ms while commits arrive: fewer, larger checkpoints and the least work per
    /// commit, for a service whose calls each write a few small rows.
    Periodic,
    /// Often enough that each checkpoint copies about [`FRAMES_PER_CHECKPOINT`] pages, for a
    /// service whose calls each write records of several pages: the commits beside a
    /// checkpoint stall for as long as it copies and syncs.
    Small,
}

/// A pool on `url` with the schema brought up to date: `kit`'s tables, then the service's. On
/// SQLite it only runs the migrations, on one connection, and is closed after them.
pub(crate) async fn migrated_pool(
    url: &str,
    service_migrations: &Migrator,
) -> anyhow::Result<AnyPool> {
    install_drivers();
    let backend = Backend::of(url)?;
    if backend == Backend::Sqlite {
        create_sqlite_parent(url)?;
    }
    let options = AnyConnectOptions::from_str(url).context("parsing the database URL")?;
    // The log mode stays with the file; another process (a bulk import) may hold the write
    // lock for a while.
    let sqlite_pragmas = format!(
        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = {};",
        SQLITE_BUSY_TIMEOUT.as_millis()
    );
    let pool = AnyPoolOptions::new()
        .max_connections(if backend == Backend::Sqlite { 1 } else { 16 })
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |connection, _| {
            let pragmas = sqlite_pragmas.clone();
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    connection.execute(pragmas.as_str()).await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .with_context(|| format!("connecting to the {backend:?} database"))?;
    migrate(&pool, &KIT_MIGRATOR).await?;
    migrate(&pool, service_migrations).await?;
    Ok(pool)
}

/// Pauses between background checkpoints: the shortest, the longest while commits arrive, and
/// the longest once the log has stopped growing.
const CHECKPOINT_PAUSE_MIN: Duration = Duration::from_millis(1);
const CHECKPOINT_WHILE_WRITING: Duration = Duration::from_millis(10);
const CHECKPOINT_WHEN_IDLE: Duration = Duration::from_millis(320);
/// Log frames (pages) a [`Checkpoints::Small`] checkpoint aims to copy.
pub const FRAMES_PER_CHECKPOINT: i64 = 16;

/// When a background checkpoint runs next.
pub(crate) struct CheckpointPacer {
    checkpoints: Checkpoints,
    pause: Duration,
    last_seen: Option<(i64, i64)>,
}

impl CheckpointPacer {
    pub(crate) fn new(checkpoints: Checkpoints) -> Self {
        Self {
            checkpoints,
            pause: CHECKPOINT_WHILE_WRITING,
            last_seen: None,
        }
    }

    pub(crate) fn pause(&self) -> Duration {
        self.pause
    }

    /// What the last checkpoint answered: (frames in the log, frames checkpointed).
    pub(crate) fn saw(&mut self, seen: (i64, i64)) {
        self.pause = next_pause(self.checkpoints, self.pause, self.last_seen, seen);
        self.last_seen = Some(seen);
    }
}

/// The pause before the next checkpoint, from the one before: `last_seen` and `seen` are the
/// (frames in the log, frames checkpointed) that the last two checkpoints answered.
fn next_pause(
    checkpoints: Checkpoints,
    pause: Duration,
    last_seen: Option<(i64, i64)>,
    seen: (i64, i64),
) -> Duration {
    if last_seen == Some(seen) {
        return (pause * 2).min(CHECKPOINT_WHEN_IDLE);
    }
    if checkpoints == Checkpoints::Periodic {
        return CHECKPOINT_WHILE_WRITING;
    }
    let writing = pause.min(CHECKPOINT_WHILE_WRITING);
    let (_, checkpointed) = seen;
    let copied = match last_seen {
        // The log restarts from its beginning once wholly copied.
        Some((_, before)) if checkpointed >= before => checkpointed - before,
        _ => checkpointed,
    };
    if copied > FRAMES_PER_CHECKPOINT {
        (writing / 2).max(CHECKPOINT_PAUSE_MIN)
    } else if copied * 2 < FRAMES_PER_CHECKPOINT {
        (writing * 2).min(CHECKPOINT_WHILE_WRITING)
    } else {
        writing
    }
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

/// Records at least this long are stored compressed; shorter ones would barely shrink.
const COMPRESS_FROM_BYTES: usize = 256;

/// Marks a compressed record; `:` is outside the base64 alphabet, so a record written before
/// compression existed can never carry it.
const COMPRESSED_PREFIX: &str = "lz4:";

/// LZ4 expands at most 255-fold; a record that claims more is damaged, and is refused before
/// its claimed size is allocated.
const LZ4_MAX_EXPANSION: usize = 255;

/// A protobuf record as stored in a TEXT column (base64), the same on both engines. Large
/// records (a declaration of a hundred goods items is about 11 kB) are LZ4-compressed first:
/// each is written to the write-ahead log and again by the checkpoint, so every byte saved is
/// saved twice on the disk the commit waits for.
pub fn encode_record(message: &impl prost::Message) -> String {
    use base64::Engine;
    let bytes = message.encode_to_vec();
    if bytes.len() < COMPRESS_FROM_BYTES {
        return base64::engine::general_purpose::STANDARD.encode(bytes);
    }
    let compressed = lz4_flex::block::compress_prepend_size(&bytes);
    let mut text = String::with_capacity(COMPRESSED_PREFIX.len() + compressed.len() * 4 / 3 + 4);
    text.push_str(COMPRESSED_PREFIX);
    base64::engine::general_purpose::STANDARD.encode_string(compressed, &mut text);
    text
}

pub fn decode_record<T: prost::Message + Default>(text: &str) -> anyhow::Result<T> {
    use base64::Engine;
    let Some(compressed) = text.strip_prefix(COMPRESSED_PREFIX) else {
        let bytes = base64::engine::general_purpose::STANDARD.decode(text)?;
        return Ok(T::decode(bytes.as_slice())?);
    };
    let compressed = base64::engine::general_purpose::STANDARD.decode(compressed)?;
    let (size, block) = lz4_flex::block::uncompressed_size(&compressed)?;
    anyhow::ensure!(
        size <= block.len().saturating_mul(LZ4_MAX_EXPANSION),
        "a compressed record claims {size} bytes from {} compressed",
        block.len()
    );
    let bytes = lz4_flex::block::decompress(block, size)?;
    Ok(T::decode(bytes.as_slice())?)
}

/// The id of a new record: a UUIDv7 (RFC 9562 section 5.7), which begins with its creation
/// time, so that a new row's key lands at the end of its primary-key index, on a page the rows
/// committed just before it share, where a random id would dirty (and log) a page of its own.
pub fn new_record_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
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
        let name = format!("bmtest_{}", uuid::Uuid::new_v4().simple());
        on_server(server_url, &format!("CREATE DATABASE {name}")).await?;
        let base = server_url.split('?').next().unwrap_or(server_url);
        let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
        Ok(TestDatabase {
            url: format!("{base}/{name}"),
            backend: super::Backend::Postgres,
            _dir: None,
        })
    }

    /// Removes a database [`postgres`] made, even while a pool still holds connections to it.
    pub async fn drop_postgres(server_url: &str, database: &TestDatabase) -> anyhow::Result<()> {
        let name = database
            .url
            .rsplit_once('/')
            .map(|(_, name)| name)
            .filter(|name| name.starts_with("bmtest_"))
            .ok_or_else(|| anyhow::anyhow!("not a test database: {}", database.url))?;
        on_server(
            server_url,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await
    }

    /// Runs one statement on a connection of its own to the server's administrative database.
    async fn on_server(server_url: &str, sql: &str) -> anyhow::Result<()> {
        super::install_drivers();
        let mut admin = AnyConnection::connect(server_url).await?;
        admin.execute(sql).await?;
        admin.close().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn declaration_like(items: usize) -> prost_types::Struct {
        let fields = (0..items)
            .map(|i| {
                let value = prost_types::Value {
                    kind: Some(prost_types::value::Kind::StringValue(format!(
                        "item {i}: 847130 portable computers, CHN, EUR {}.25",
                        1_000 + 37 * i
                    ))),
                };
                (format!("goods_item_{i}"), value)
            })
            .collect();
        prost_types::Struct { fields }
    }

    #[test]
    fn small_records_stay_plain_and_large_ones_shrink_and_both_round_trip() {
        let small = prost_types::Duration {
            seconds: 7,
            nanos: 0,
        };
        let text = encode_record(&small);
        assert!(!text.starts_with(COMPRESSED_PREFIX));
        assert_eq!(
            decode_record::<prost_types::Duration>(&text).unwrap(),
            small
        );

        let large = declaration_like(100);
        let text = encode_record(&large);
        let plain =
            base64::engine::general_purpose::STANDARD.encode(prost::Message::encode_to_vec(&large));
        assert!(text.starts_with(COMPRESSED_PREFIX));
        assert!(
            text.len() * 2 < plain.len(),
            "{} vs {}",
            text.len(),
            plain.len()
        );
        assert_eq!(decode_record::<prost_types::Struct>(&text).unwrap(), large);
    }

    #[test]
    fn a_record_written_before_compression_still_reads() {
        let large = declaration_like(20);
        let plain =
            base64::engine::general_purpose::STANDARD.encode(prost::Message::encode_to_vec(&large));
        assert_eq!(decode_record::<prost_types::Struct>(&plain).unwrap(), large);
    }

    #[test]
    fn a_damaged_compressed_record_is_an_error_not_a_huge_allocation() {
        let mut block = u32::MAX.to_le_bytes().to_vec();
        block.extend_from_slice(b"\x10abcdefgh");
        let text = format!(
            "{COMPRESSED_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(block)
        );
        assert!(decode_record::<prost_types::Struct>(&text).is_err());
        assert!(decode_record::<prost_types::Struct>("lz4:!!!").is_err());

        let sound = encode_record(&declaration_like(20));
        let mut block = base64::engine::general_purpose::STANDARD
            .decode(sound.trim_start_matches(COMPRESSED_PREFIX))
            .unwrap();
        block[..4].copy_from_slice(&16u32.to_le_bytes());
        let understated = format!(
            "{COMPRESSED_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(block)
        );
        assert!(decode_record::<prost_types::Struct>(&understated).is_err());
    }

    #[test]
    fn small_checkpoints_follow_the_rate_of_writing_and_periodic_ones_keep_their_pace() {
        let ms = Duration::from_millis;
        let small = Checkpoints::Small;
        // Many pages since the last checkpoint: sooner, down to the shortest pause.
        assert_eq!(
            next_pause(small, ms(10), Some((100, 100)), (200, 200)),
            ms(5)
        );
        assert_eq!(
            next_pause(small, ms(1), Some((100, 100)), (200, 200)),
            ms(1)
        );
        // Few pages: later, up to the pace while writing.
        assert_eq!(
            next_pause(small, ms(2), Some((100, 100)), (103, 103)),
            ms(4)
        );
        assert_eq!(
            next_pause(small, ms(8), Some((100, 100)), (103, 103)),
            ms(10)
        );
        // About the target: the same pause.
        assert_eq!(
            next_pause(small, ms(4), Some((100, 100)), (112, 112)),
            ms(4)
        );
        // The log restarted after a whole checkpoint: what it holds now was copied.
        assert_eq!(next_pause(small, ms(4), Some((300, 300)), (40, 40)), ms(2));
        // Writing again after an idle spell starts from the pace while writing.
        assert_eq!(next_pause(small, ms(320), Some((5, 5)), (60, 60)), ms(5));
        // Nothing new: the pause doubles up to the idle pace, whatever the pacing.
        for checkpoints in [small, Checkpoints::Periodic] {
            assert_eq!(
                next_pause(checkpoints, ms(10), Some((7, 7)), (7, 7)),
                ms(20)
            );
            assert_eq!(
                next_pause(checkpoints, ms(320), Some((7, 7)), (7, 7)),
                ms(320)
            );
        }
        assert_eq!(
            next_pause(Checkpoints::Periodic, ms(320), Some((5, 5)), (900, 900)),
            ms(10)
        );
    }
}
