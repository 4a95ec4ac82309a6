//! The stores' one way to their database. SQLite, the embedded default, is called on the
//! caller's own thread through one connection held behind an async lock: a statement there is
//! a few microseconds of SQLite's own work, while a driver that runs the connection on a thread
//! of its own (as sqlx does) costs tens of microseconds of thread hand-offs for every statement,
//! transaction start and commit. PostgreSQL, a server across a socket, is reached through a
//! sqlx pool. Both run the same SQL: `$n` parameters, TEXT and BIGINT columns.
//!
//! SQLite statements run without an `.await` between them, so a caller that goes away (a
//! cancelled RPC) never leaves one half done; a transaction dropped before its commit rolls back.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    sync::{Arc, Weak},
    time::{Duration, Instant},
};

use anyhow::Context;
use futures::TryStreamExt;
use rusqlite::{CachedStatement, Connection, OpenFlags, types::ValueRef};
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row as _, ValueRef as _, any::AnyRow};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{
    storage::{self, Backend, CheckpointPacer, Checkpoints, SQLITE_BUSY_TIMEOUT, decode_record},
    writes::{Param, Statement},
};

/// A database: cheap to clone, every clone the same connection or pool.
#[derive(Clone)]
pub struct Db {
    engine: Engine,
}

#[derive(Clone)]
enum Engine {
    Sqlite {
        connection: Arc<Mutex<Connection>>,
        path: Arc<PathBuf>,
    },
    Postgres(AnyPool),
}

/// Prepared statements a SQLite connection keeps: every statement the stores run, with room.
const SQLITE_STATEMENT_CACHE: usize = 256;

/// What every SQLite connection is set to. WAL lets the checkpoint copy pages while the
/// connection writes; NORMAL syncs at checkpoints, not at every commit, and a crash of the
/// process loses nothing committed. Pages are read in place through the memory map, so the page
/// cache holds little but the pages commits wrote: at 1 MiB rather than the default 2 MB, the
/// walk over its hash table that ends every commit (`pcache1TruncateUnsafe`, 2-4 % of a
/// crossing's CPU in a profile) costs less, and a crossing about 8 % less CPU.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
    PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -1024;";

/// The longest pause between two attempts at the write lock while another process holds it.
const WRITE_LOCK_RETRY_MAX: Duration = Duration::from_millis(50);

impl Db {
    /// Opens the database a URL names and brings its schema up to date: `kit`'s tables, then
    /// the service's. On SQLite a background thread checkpoints the write-ahead log at the pace
    /// `checkpoints` asks, while this handle or a clone of it lives.
    pub async fn connect(
        url: &str,
        service_migrations: &sqlx::migrate::Migrator,
        checkpoints: Checkpoints,
    ) -> anyhow::Result<Self> {
        let backend = Backend::of(url)?;
        let pool = storage::migrated_pool(url, service_migrations).await?;
        if backend == Backend::Postgres {
            return Ok(Self {
                engine: Engine::Postgres(pool),
            });
        }
        pool.close().await;
        let path = sqlite_path(url)?;
        let connection = open_sqlite(&path, true)?;
        let connection = Arc::new(Mutex::new(connection));
        checkpoint_in_background(&path, Arc::downgrade(&connection), checkpoints)?;
        Ok(Self {
            engine: Engine::Sqlite {
                connection,
                path: Arc::new(path),
            },
        })
    }

    pub fn backend(&self) -> Backend {
        match &self.engine {
            Engine::Sqlite { .. } => Backend::Sqlite,
            Engine::Postgres(_) => Backend::Postgres,
        }
    }

    /// A transaction for writes. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so that reads inside it never have to upgrade to it and meet another
    /// writer (another process, such as a bulk import) half-way.
    pub async fn begin(&self) -> anyhow::Result<Tx> {
        match &self.engine {
            Engine::Sqlite { connection, .. } => {
                let deadline = Instant::now() + SQLITE_BUSY_TIMEOUT;
                let mut pause = Duration::from_millis(1);
                loop {
                    let held = connection.clone().lock_owned().await;
                    match begin_immediate(&held) {
                        Ok(()) => {
                            return Ok(Tx {
                                inner: TxInner::Sqlite(held),
                            });
                        }
                        Err(error) if is_busy(&error) && Instant::now() < deadline => {}
                        Err(error) => return Err(error).context("starting a transaction"),
                    }
                    drop(held);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(WRITE_LOCK_RETRY_MAX);
                }
            }
            Engine::Postgres(pool) => Ok(Tx {
                inner: TxInner::Postgres(pool.begin().await.context("starting a transaction")?),
            }),
        }
    }

    /// Runs `statements` in order in one transaction: all of them or none. On PostgreSQL that
    /// is one message and one round trip: a script of several statements and no transaction
    /// commands runs as one transaction, and rolls back whole when one of them fails.
    pub async fn execute_atomically(&self, statements: &[Statement]) -> anyhow::Result<()> {
        match &self.engine {
            Engine::Sqlite { .. } => {
                let mut tx = self.begin().await?;
                tx.execute_all(statements).await?;
                tx.commit().await
            }
            Engine::Postgres(pool) => {
                let mut connection = pool.acquire().await.context("acquiring a connection")?;
                postgres_execute_script(&mut connection, statements)
                    .await
                    .map(drop)
            }
        }
    }

    /// Runs one statement on its own; the rows it changed.
    pub async fn execute(&self, statement: &Statement) -> anyhow::Result<u64> {
        match &self.engine {
            Engine::Sqlite { connection, .. } => {
                sqlite_execute(&*connection.lock().await, statement)
            }
            Engine::Postgres(pool) => any_execute(pool, statement).await,
        }
    }

    pub async fn fetch_optional<T: FromRow>(
        &self,
        statement: &Statement,
    ) -> anyhow::Result<Option<T>> {
        Ok(self.fetch_all(statement).await?.into_iter().next())
    }

    pub async fn fetch_one<T: FromRow>(&self, statement: &Statement) -> anyhow::Result<T> {
        self.fetch_optional(statement)
            .await?
            .context("the query returned no row")
    }

    pub async fn fetch_all<T: FromRow>(&self, statement: &Statement) -> anyhow::Result<Vec<T>> {
        match &self.engine {
            Engine::Sqlite { connection, .. } => sqlite_fetch(&*connection.lock().await, statement),
            Engine::Postgres(pool) => any_fetch(pool, statement).await,
        }
    }

    /// One encoded record; `statement` selects a single TEXT column.
    pub async fn fetch_record<T: prost::Message + Default>(
        &self,
        statement: &Statement,
    ) -> anyhow::Result<Option<T>> {
        let row: Option<(String,)> = self.fetch_optional(statement).await?;
        row.map(|(text,)| decode_record(&text)).transpose()
    }

    /// Reads every row of a large table (a register loaded at start) on a connection of its
    /// own, so that the stores' connection serves calls meanwhile, and folds each row into
    /// `into` as it comes instead of holding them all. On SQLite it reads without the memory
    /// map, through which every page of the scan would stay in the process's memory.
    pub async fn scan<T, A>(
        &self,
        statement: Statement,
        mut into: A,
        mut fold: impl FnMut(&mut A, T) -> anyhow::Result<()> + Send + 'static,
    ) -> anyhow::Result<A>
    where
        T: FromRow,
        A: Send + 'static,
    {
        match &self.engine {
            Engine::Sqlite { path, .. } => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || {
                    let connection = open_sqlite(&path, false)?;
                    sqlite_rows(&connection, &statement, |row| fold(&mut into, row))?;
                    Ok(into)
                })
                .await
                .context("the scan stopped")?
            }
            Engine::Postgres(pool) => {
                let mut connection = pool.acquire().await?.detach();
                let mut rows = statement.query().fetch(&mut connection);
                while let Some(row) = rows.try_next().await? {
                    fold(&mut into, T::from_any(&row)?)?;
                }
                Ok(into)
            }
        }
    }

    /// At shutdown: waits for the calls in flight; on SQLite then folds the write-ahead log
    /// into the database file (the connection closes with its last clone), on PostgreSQL closes
    /// the pool.
    pub async fn close(&self) {
        match &self.engine {
            Engine::Sqlite { connection, .. } => {
                let connection = connection.lock().await;
                if let Err(error) = connection.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
                    tracing::warn!(%error, "final checkpoint failed");
                }
            }
            Engine::Postgres(pool) => pool.close().await,
        }
    }
}

/// A transaction: committed by [`Tx::commit`], rolled back when dropped before it.
pub struct Tx {
    inner: TxInner,
}

enum TxInner {
    Sqlite(OwnedMutexGuard<Connection>),
    Postgres(sqlx::Transaction<'static, Any>),
    Ended,
}

impl Tx {
    pub async fn execute(&mut self, statement: &Statement) -> anyhow::Result<u64> {
        match &mut self.inner {
            TxInner::Sqlite(connection) => sqlite_execute(connection, statement),
            TxInner::Postgres(tx) => any_execute(&mut **tx, statement).await,
            TxInner::Ended => anyhow::bail!("the transaction has ended"),
        }
    }

    /// Runs `statements` in order; the rows each one changed. PostgreSQL receives them all in
    /// one message (see [`postgres_script`]).
    pub async fn execute_all(&mut self, statements: &[Statement]) -> anyhow::Result<Vec<u64>> {
        match &mut self.inner {
            TxInner::Sqlite(connection) => statements
                .iter()
                .map(|statement| sqlite_execute(connection, statement))
                .collect(),
            TxInner::Postgres(tx) => postgres_execute_script(tx, statements).await,
            TxInner::Ended => anyhow::bail!("the transaction has ended"),
        }
    }

    pub async fn fetch_optional<T: FromRow>(
        &mut self,
        statement: &Statement,
    ) -> anyhow::Result<Option<T>> {
        Ok(self.fetch_all(statement).await?.into_iter().next())
    }

    pub async fn fetch_one<T: FromRow>(&mut self, statement: &Statement) -> anyhow::Result<T> {
        self.fetch_optional(statement)
            .await?
            .context("the query returned no row")
    }

    pub async fn fetch_all<T: FromRow>(&mut self, statement: &Statement) -> anyhow::Result<Vec<T>> {
        match &mut self.inner {
            TxInner::Sqlite(connection) => sqlite_fetch(connection, statement),
            TxInner::Postgres(tx) => any_fetch(&mut **tx, statement).await,
            TxInner::Ended => anyhow::bail!("the transaction has ended"),
        }
    }

    /// One encoded record; `statement` selects a single TEXT column.
    pub async fn fetch_record<T: prost::Message + Default>(
        &mut self,
        statement: &Statement,
    ) -> anyhow::Result<Option<T>> {
        let row: Option<(String,)> = self.fetch_optional(statement).await?;
        row.map(|(text,)| decode_record(&text)).transpose()
    }

    pub async fn commit(mut self) -> anyhow::Result<()> {
        match std::mem::replace(&mut self.inner, TxInner::Ended) {
            TxInner::Sqlite(connection) => {
                let committed = connection.execute_batch("COMMIT");
                if committed.is_err() {
                    // A commit that failed (a full disk) leaves the transaction open.
                    let _ = connection.execute_batch("ROLLBACK");
                }
                committed.context("committing")
            }
            TxInner::Postgres(tx) => tx.commit().await.context("committing"),
            TxInner::Ended => Ok(()),
        }
    }

    pub async fn rollback(mut self) -> anyhow::Result<()> {
        match std::mem::replace(&mut self.inner, TxInner::Ended) {
            TxInner::Sqlite(connection) => {
                connection.execute_batch("ROLLBACK").context("rolling back")
            }
            TxInner::Postgres(tx) => tx.rollback().await.context("rolling back"),
            TxInner::Ended => Ok(()),
        }
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if let TxInner::Sqlite(connection) = &self.inner {
            let _ = connection.execute_batch("ROLLBACK");
        }
    }
}

/// A value a column holds, read as the type the store asks for.
pub trait Column: Sized {
    fn from_sqlite(value: ValueRef<'_>) -> anyhow::Result<Self>;
    fn from_any(row: &AnyRow, index: usize) -> anyhow::Result<Self>;
}

impl Column for i64 {
    fn from_sqlite(value: ValueRef<'_>) -> anyhow::Result<Self> {
        Ok(value.as_i64()?)
    }

    fn from_any(row: &AnyRow, index: usize) -> anyhow::Result<Self> {
        Ok(row.try_get(index)?)
    }
}

impl Column for String {
    fn from_sqlite(value: ValueRef<'_>) -> anyhow::Result<Self> {
        Ok(value.as_str()?.to_owned())
    }

    fn from_any(row: &AnyRow, index: usize) -> anyhow::Result<Self> {
        Ok(row.try_get(index)?)
    }
}

impl<T: Column> Column for Option<T> {
    fn from_sqlite(value: ValueRef<'_>) -> anyhow::Result<Self> {
        match value {
            ValueRef::Null => Ok(None),
            value => T::from_sqlite(value).map(Some),
        }
    }

    fn from_any(row: &AnyRow, index: usize) -> anyhow::Result<Self> {
        if row.try_get_raw(index)?.is_null() {
            return Ok(None);
        }
        T::from_any(row, index).map(Some)
    }
}

/// A row read as a tuple of [`Column`]s, in the order the query selects them.
pub trait FromRow: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> anyhow::Result<Self>;
    fn from_any(row: &AnyRow) -> anyhow::Result<Self>;
}

macro_rules! tuple_rows {
    ($($column:ident $index:tt),+) => {
        impl<$($column: Column),+> FromRow for ($($column,)+) {
            fn from_sqlite(row: &rusqlite::Row<'_>) -> anyhow::Result<Self> {
                Ok(($($column::from_sqlite(row.get_ref($index)?)?,)+))
            }

            fn from_any(row: &AnyRow) -> anyhow::Result<Self> {
                Ok(($($column::from_any(row, $index)?,)+))
            }
        }
    };
}

tuple_rows!(A 0);
tuple_rows!(A 0, B 1);
tuple_rows!(A 0, B 1, C 2);
tuple_rows!(A 0, B 1, C 2, D 3);
tuple_rows!(A 0, B 1, C 2, D 3, E 4);
tuple_rows!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_rows!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_rows!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_rows!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_rows!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);

/// `statement` prepared (from the connection's cache) with its parameters bound. SQLite numbers
/// a statement's parameters in the order they first appear, so `$n` is bound by its name; an
/// anonymous `?` (which bulk inserts use: SQLite looks up every named parameter of a statement
/// among the ones before it) takes the value at its own position.
fn sqlite_prepared<'c>(
    connection: &'c Connection,
    statement: &Statement,
) -> anyhow::Result<CachedStatement<'c>> {
    let mut prepared = connection
        .prepare_cached(statement.sql())
        .with_context(|| format!("preparing {}", statement.sql()))?;
    for index in 1..=prepared.parameter_count() {
        let number = match prepared.parameter_name(index) {
            None => Some(index),
            Some(name) => name
                .strip_prefix('$')
                .and_then(|number| number.parse::<usize>().ok()),
        };
        let param = number
            .and_then(|number| statement.params().get(number.checked_sub(1)?))
            .with_context(|| format!("parameter {index} of {} is unbound", statement.sql()))?;
        match param {
            Param::Text(text) => prepared.raw_bind_parameter(index, text.as_deref())?,
            Param::Int(number) => prepared.raw_bind_parameter(index, number)?,
        }
    }
    Ok(prepared)
}

/// Takes the write lock without waiting for it. When another process (a bulk import) holds it,
/// the caller's task waits, asleep, and tries again: SQLite's busy handler would sleep on the
/// runtime's thread, which serves every other call meanwhile.
fn begin_immediate(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(Duration::ZERO)?;
    let begun = connection.execute_batch("BEGIN IMMEDIATE");
    connection.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
    begun
}

fn is_busy(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
}

fn sqlite_execute(connection: &Connection, statement: &Statement) -> anyhow::Result<u64> {
    let mut prepared = sqlite_prepared(connection, statement)?;
    let changed = prepared
        .raw_execute()
        .with_context(|| format!("running {}", statement.sql()))?;
    Ok(changed as u64)
}

fn sqlite_fetch<T: FromRow>(
    connection: &Connection,
    statement: &Statement,
) -> anyhow::Result<Vec<T>> {
    let mut read = Vec::new();
    sqlite_rows(connection, statement, |row| {
        read.push(row);
        Ok(())
    })?;
    Ok(read)
}

/// Hands each row `statement` reads to `each`, in order.
fn sqlite_rows<T: FromRow>(
    connection: &Connection,
    statement: &Statement,
    mut each: impl FnMut(T) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut prepared = sqlite_prepared(connection, statement)?;
    let mut rows = prepared.raw_query();
    while let Some(row) = rows
        .next()
        .with_context(|| format!("running {}", statement.sql()))?
    {
        each(T::from_sqlite(row)?)?;
    }
    Ok(())
}

async fn any_execute<'e>(
    executor: impl Executor<'e, Database = Any>,
    statement: &Statement,
) -> anyhow::Result<u64> {
    Ok(statement.query().execute(executor).await?.rows_affected())
}

async fn any_fetch<'e, T: FromRow>(
    executor: impl Executor<'e, Database = Any>,
    statement: &Statement,
) -> anyhow::Result<Vec<T>> {
    let mut rows = statement.query().fetch(executor);
    let mut read = Vec::new();
    while let Some(row) = rows.try_next().await? {
        read.push(T::from_any(&row)?);
    }
    Ok(read)
}

/// Runs `statements` as one script (see [`postgres_script`]); the rows each one changed.
async fn postgres_execute_script(
    connection: &mut AnyConnection,
    statements: &[Statement],
) -> anyhow::Result<Vec<u64>> {
    if statements.is_empty() {
        return Ok(Vec::new());
    }
    let script = postgres_script(statements)?;
    let changed: Vec<u64> = sqlx::raw_sql(&script)
        .execute_many(connection)
        .map_ok(|result| result.rows_affected())
        .try_collect()
        .await?;
    anyhow::ensure!(
        changed.len() == statements.len(),
        "{} statements sent, {} answered",
        statements.len(),
        changed.len()
    );
    Ok(changed)
}

/// `statements` as one script for PostgreSQL's simple query protocol, each `$n` replaced by its
/// value written as a typed literal (`E'...'::text`, `'42'::int8`, `NULL::text`, the types the
/// extended protocol would have declared for them): the server answers the lot after one
/// round trip, where each statement bound on its own costs one. Text goes in the escaped form
/// (`E'...'`, quotes doubled, backslashes escaped), whose reading does not depend on the
/// server's `standard_conforming_strings`; a statement with a comment or a dollar quote is
/// refused, as a value written inside one could end it and be read as SQL.
fn postgres_script(statements: &[Statement]) -> anyhow::Result<String> {
    let written_length = |param: &Param| match param {
        Param::Text(text) => text.as_ref().map_or(0, String::len) + 12,
        Param::Int(_) => 28,
    };
    let mut script = String::with_capacity(
        statements
            .iter()
            .map(|statement| {
                statement.sql().len()
                    + 2
                    + statement.params().iter().map(written_length).sum::<usize>()
            })
            .sum(),
    );
    for statement in statements {
        let mut sql = statement.sql();
        let mut quote = None;
        while let Some(at) = sql.find(['$', '\'', '"', '-', '/']) {
            script.push_str(&sql[..at]);
            let mark = sql.as_bytes()[at];
            let rest = &sql[at + 1..];
            match (quote, mark) {
                (None, b'$') => {
                    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                    anyhow::ensure!(
                        digits > 0,
                        "a statement sent in a script uses no dollar quoting: {}",
                        statement.sql()
                    );
                    let number: usize = rest[..digits].parse()?;
                    let param = number
                        .checked_sub(1)
                        .and_then(|index| statement.params().get(index))
                        .with_context(|| {
                            format!("parameter ${number} of {} is unbound", statement.sql())
                        })?;
                    push_postgres_literal(&mut script, param)?;
                    sql = &rest[digits..];
                    continue;
                }
                // `--` or `/*`: a value written into a comment could end it (a line break, `*/`).
                (None, b'-' | b'/') if rest.starts_with(if mark == b'-' { '-' } else { '*' }) => {
                    anyhow::bail!(
                        "a statement sent in a script carries no comment: {}",
                        statement.sql()
                    )
                }
                (None, b'\'' | b'"') => quote = Some(mark),
                (Some(open), _) if open == mark => quote = None,
                _ => {}
            }
            script.push(char::from(mark));
            sql = rest;
        }
        script.push_str(sql);
        script.push_str(";\n");
    }
    Ok(script)
}

fn push_postgres_literal(script: &mut String, param: &Param) -> anyhow::Result<()> {
    match param {
        Param::Int(number) => write!(script, "'{number}'::int8")?,
        Param::Text(None) => script.push_str("NULL::text"),
        Param::Text(Some(text)) => {
            anyhow::ensure!(
                !text.contains('\0'),
                "PostgreSQL text cannot hold a NUL character"
            );
            script.push_str("E'");
            let mut rest = text.as_str();
            while let Some(at) = rest.find(['\'', '\\']) {
                script.push_str(&rest[..at]);
                script.push_str(if rest.as_bytes()[at] == b'\'' {
                    "''"
                } else {
                    "\\\\"
                });
                rest = &rest[at + 1..];
            }
            script.push_str(rest);
            script.push_str("'::text");
        }
    }
    Ok(())
}

/// The file a `sqlite:` URL names; its directory exists by now (the migrations created it).
fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    anyhow::ensure!(
        !path.is_empty() && path != ":memory:",
        "a SQLite database must be a file: {url}"
    );
    Ok(PathBuf::from(path))
}

fn open_sqlite(path: &Path, mapped: bool) -> anyhow::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {}", path.display()))?;
    connection.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
    connection.execute_batch(SQLITE_PRAGMAS)?;
    if !mapped {
        connection.execute_batch("PRAGMA mmap_size = 0")?;
    }
    connection.set_prepared_statement_cache_capacity(SQLITE_STATEMENT_CACHE);
    Ok(connection)
}

/// SQLite checkpoints its write-ahead log every 1,000 pages inside the commit that crosses the
/// mark, which then takes ten times longer than the others. So a thread checkpoints on a
/// connection of its own (the stores' connection never waits behind its fsync), paced by
/// [`CheckpointPacer`], until the stores' connection is gone.
fn checkpoint_in_background(
    path: &Path,
    stores: Weak<Mutex<Connection>>,
    checkpoints: Checkpoints,
) -> anyhow::Result<()> {
    let connection = open_sqlite(path, false)?;
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut pacer = CheckpointPacer::new(checkpoints);
            loop {
                std::thread::sleep(pacer.pause());
                if stores.strong_count() == 0 {
                    return;
                }
                // The answer is (busy, frames in the log, frames checkpointed).
                match connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                    Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
                }) {
                    Ok(seen) => pacer.saw(seen),
                    Err(error) => tracing::warn!(%error, "background checkpoint failed"),
                }
            }
        })
        .context("starting the checkpoint thread")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testing;

    static NO_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

    fn insert(id: i64, label: Option<&str>) -> Statement {
        Statement::new("INSERT INTO db_test (id, label) VALUES ($1, $2)")
            .bind(id)
            .bind(label)
    }

    async fn db_with_table(url: &str) -> Db {
        let db = Db::connect(url, &NO_MIGRATIONS, Checkpoints::Periodic)
            .await
            .unwrap();
        db.execute(&Statement::new(
            "CREATE TABLE db_test (id BIGINT PRIMARY KEY, label TEXT)",
        ))
        .await
        .unwrap();
        db
    }

    async fn rows(db: &Db) -> Vec<(i64, Option<String>)> {
        db.fetch_all(&Statement::new("SELECT id, label FROM db_test ORDER BY id"))
            .await
            .unwrap()
    }

    #[test]
    fn a_postgres_script_writes_each_parameter_as_a_typed_literal_outside_quotes_only() {
        let script = postgres_script(&[
            Statement::new(
                "UPDATE t SET a = $2, b = '$1', \"c$1\" = $1 WHERE d = $2 || 'it''s $2'",
            )
            .bind(-9)
            .bind(Some("it's a \\ path")),
            Statement::new("DELETE FROM t WHERE a IS NOT DISTINCT FROM $1").bind(None::<&str>),
        ])
        .unwrap();
        assert_eq!(
            script,
            "UPDATE t SET a = E'it''s a \\\\ path'::text, b = '$1', \"c$1\" = '-9'::int8 \
             WHERE d = E'it''s a \\\\ path'::text || 'it''s $2';\n\
             DELETE FROM t WHERE a IS NOT DISTINCT FROM NULL::text;\n"
        );
        assert!(postgres_script(&[Statement::new("SELECT $2").bind(1)]).is_err());
        assert!(postgres_script(&[Statement::new("SELECT $1 -- a's\n, $1").bind(1)]).is_err());
        assert!(postgres_script(&[Statement::new("SELECT /* $1 */ $1").bind(1)]).is_err());
        assert!(postgres_script(&[Statement::new("SELECT $$ $1 $$, $1").bind(1)]).is_err());
        assert!(postgres_script(&[Statement::new("SELECT 2-1, 4/2, '--', '/*'")]).is_ok());
        assert!(postgres_script(&[insert(1, Some("nul \0 inside"))]).is_err());
    }

    #[tokio::test]
    async fn every_text_and_number_comes_back_as_written_through_a_batch_on_every_backend() {
        let awkward = [
            "it's",
            "back\\slash\\",
            "E'\\x41'",
            "$1 and $$dollars$$",
            "line\nbreak\ttab",
            "Ærøskøbing – Łódź – 東京",
            "",
        ];
        for database in testing::databases().await.unwrap() {
            let db = db_with_table(&database.url).await;
            let mut statements: Vec<Statement> = awkward
                .iter()
                .zip(1..)
                .map(|(label, id)| insert(id, Some(label)))
                .collect();
            statements.push(insert(i64::MIN, None));
            statements.push(insert(i64::MAX, Some("max")));
            db.execute_atomically(&statements).await.unwrap();
            let mut expected: Vec<(i64, Option<String>)> = awkward
                .iter()
                .zip(1..)
                .map(|(label, id)| (id, Some(label.to_string())))
                .collect();
            expected.insert(0, (i64::MIN, None));
            expected.push((i64::MAX, Some("max".into())));
            assert_eq!(rows(&db).await, expected, "{:?}", database.backend);
        }
    }

    #[tokio::test]
    async fn a_transaction_s_statements_report_the_rows_each_changed_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let db = db_with_table(&database.url).await;
            let mut tx = db.begin().await.unwrap();
            let changed = tx
                .execute_all(&[
                    insert(1, Some("one")),
                    insert(2, Some("two")),
                    Statement::new(
                        "INSERT INTO db_test (id, label) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(1)
                    .bind("again"),
                    Statement::new("UPDATE db_test SET label = $1 WHERE id >= $2")
                        .bind("many")
                        .bind(1),
                    Statement::new("UPDATE db_test SET label = $1 WHERE id = $2")
                        .bind("none")
                        .bind(99),
                ])
                .await
                .unwrap();
            assert_eq!(changed, vec![1, 1, 0, 2, 0], "{:?}", database.backend);
            tx.commit().await.unwrap();
        }
    }

    #[tokio::test]
    async fn parameters_bind_by_number_whatever_order_they_appear_in_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let db = db_with_table(&database.url).await;
            db.execute(
                &Statement::new("INSERT INTO db_test (label, id) VALUES ($2, $1)")
                    .bind(7)
                    .bind("seven"),
            )
            .await
            .unwrap();
            let found: Option<(String, i64)> = db
                .fetch_optional(
                    &Statement::new("SELECT label, id FROM db_test WHERE id = $1 AND label <> $2")
                        .bind(7)
                        .bind("other"),
                )
                .await
                .unwrap();
            assert_eq!(found, Some(("seven".into(), 7)), "{:?}", database.backend);
            if database.backend == Backend::Sqlite {
                let anonymous: Vec<(i64, String)> = db
                    .fetch_all(
                        &Statement::new(
                            "SELECT id, label FROM db_test WHERE id IN (?, ?) AND label = ?",
                        )
                        .bind(7)
                        .bind(9)
                        .bind("seven"),
                    )
                    .await
                    .unwrap();
                assert_eq!(anonymous, vec![(7, "seven".into())]);
            }
            let missing: Option<(String,)> = db
                .fetch_optional(&Statement::new("SELECT label FROM db_test WHERE id = $1").bind(8))
                .await
                .unwrap();
            assert_eq!(missing, None, "{:?}", database.backend);
        }
    }

    #[tokio::test]
    async fn a_transaction_commits_all_or_rolls_back_when_dropped_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let db = db_with_table(&database.url).await;
            let mut tx = db.begin().await.unwrap();
            let changed = tx
                .execute_all(&[insert(1, Some("one")), insert(2, None)])
                .await
                .unwrap();
            assert_eq!(changed, vec![1, 1], "{:?}", database.backend);
            let inside: Vec<(i64, Option<String>)> = tx
                .fetch_all(&Statement::new("SELECT id, label FROM db_test ORDER BY id"))
                .await
                .unwrap();
            assert_eq!(inside.len(), 2, "{:?}", database.backend);
            tx.commit().await.unwrap();

            let mut tx = db.begin().await.unwrap();
            tx.execute(&insert(3, Some("three"))).await.unwrap();
            assert!(tx.execute(&insert(1, Some("clash"))).await.is_err());
            drop(tx);
            assert_eq!(
                rows(&db).await,
                vec![(1, Some("one".into())), (2, None)],
                "{:?}",
                database.backend
            );

            let mut tx = db.begin().await.unwrap();
            let clash = tx
                .execute_all(&[insert(5, Some("five")), insert(2, Some("clash"))])
                .await;
            assert!(clash.is_err(), "{:?}", database.backend);
            drop(tx);
            assert_eq!(rows(&db).await.len(), 2, "{:?}", database.backend);

            let mut tx = db.begin().await.unwrap();
            tx.execute(&insert(4, None)).await.unwrap();
            tx.rollback().await.unwrap();
            assert_eq!(rows(&db).await.len(), 2, "{:?}", database.backend);
            let scanned = db
                .scan(
                    Statement::new("SELECT id FROM db_test ORDER BY id"),
                    Vec::new(),
                    |ids, (id,): (i64,)| {
                        ids.push(id);
                        Ok(())
                    },
                )
                .await
                .unwrap();
            assert_eq!(scanned, vec![1, 2], "{:?}", database.backend);
        }
    }

    #[tokio::test]
    async fn a_write_waits_for_another_process_s_lock_without_holding_up_reads() {
        let database = testing::sqlite().unwrap();
        let db = db_with_table(&database.url).await;
        db.execute(&insert(1, Some("one"))).await.unwrap();
        let other_process = open_sqlite(&sqlite_path(&database.url).unwrap(), false).unwrap();
        other_process.execute_batch("BEGIN IMMEDIATE").unwrap();

        let writer = {
            let db = db.clone();
            tokio::spawn(async move {
                let mut tx = db.begin().await?;
                tx.execute(&insert(2, None)).await?;
                tx.commit().await
            })
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        // The runtime's one thread still serves reads while the write waits for the lock.
        let read = tokio::time::timeout(Duration::from_millis(500), rows(&db)).await;
        assert_eq!(read.unwrap().len(), 1);
        assert!(!writer.is_finished());

        other_process.execute_batch("COMMIT").unwrap();
        writer.await.unwrap().unwrap();
        assert_eq!(rows(&db).await.len(), 2);
    }

    #[tokio::test]
    async fn a_call_cancelled_inside_a_transaction_leaves_nothing_behind() {
        let database = testing::sqlite().unwrap();
        let db = db_with_table(&database.url).await;
        let abandoned = {
            let db = db.clone();
            tokio::spawn(async move {
                let mut tx = db.begin().await.unwrap();
                tx.execute(&insert(1, Some("half"))).await.unwrap();
                std::future::pending::<()>().await;
                tx.commit().await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        abandoned.abort();
        assert!(abandoned.await.unwrap_err().is_cancelled());
        assert!(rows(&db).await.is_empty());
        db.execute(&insert(2, None)).await.unwrap();
        assert_eq!(rows(&db).await, vec![(2, None)]);
    }
}
