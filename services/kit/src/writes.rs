//! The writes of one call, gathered first and committed together: on SQLite as one script
//! (`BEGIN IMMEDIATE; …; COMMIT`) that the connection's worker thread runs in a single hand-off,
//! instead of one hand-off there and back for every statement; on PostgreSQL as one transaction.
//! A [`GroupWriter`] commits the writes of concurrent calls to one database in one transaction.

use std::{borrow::Cow, fmt::Write as _, future::Future};

use futures::TryStreamExt;
use sqlx::{Any, AnyConnection, Database, Either, Executor, Sqlite, query::Query};
use tokio::sync::{mpsc, oneshot};

use crate::db::Db;

/// A value bound to a statement parameter: the types the stores write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Text(Option<String>),
    Int(i64),
}

impl From<&str> for Param {
    fn from(value: &str) -> Self {
        Self::Text(Some(value.to_owned()))
    }
}

impl From<String> for Param {
    fn from(value: String) -> Self {
        Self::Text(Some(value))
    }
}

impl From<&String> for Param {
    fn from(value: &String) -> Self {
        Self::Text(Some(value.clone()))
    }
}

impl From<Option<&str>> for Param {
    fn from(value: Option<&str>) -> Self {
        Self::Text(value.map(str::to_owned))
    }
}

impl From<i64> for Param {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl Param {
    fn bind_to<'q>(
        &'q self,
        query: Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    ) -> Query<'q, Any, sqlx::any::AnyArguments<'q>> {
        match self {
            Self::Text(value) => query.bind(value.as_deref()),
            Self::Int(value) => query.bind(*value),
        }
    }
}

/// One statement with `$1`, `$2`… parameters numbered from one, as everywhere else.
#[derive(Debug, Clone)]
pub struct Statement {
    sql: Cow<'static, str>,
    params: Vec<Param>,
}

impl Statement {
    pub fn new(sql: impl Into<Cow<'static, str>>) -> Self {
        Self {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }

    pub(crate) fn params(&self) -> &[Param] {
        &self.params
    }

    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        self.params.push(value.into());
        self
    }

    pub(crate) fn query(&self) -> Query<'_, Any, sqlx::any::AnyArguments<'_>> {
        self.params
            .iter()
            .fold(sqlx::query(&self.sql), |query, param| param.bind_to(query))
    }

    /// Runs the statement alone, inside a transaction the caller holds; the rows it changed.
    pub async fn execute(&self, connection: &mut AnyConnection) -> sqlx::Result<u64> {
        Ok(self.query().execute(connection).await?.rows_affected())
    }
}

/// Runs `statements` in order inside a transaction the caller holds; the rows each one
/// changed. On SQLite they go to the connection's worker thread as one script, in a single
/// hand-off; the script's text repeats with the statements' shape, so it is prepared once.
pub async fn execute_all(
    statements: &[Statement],
    connection: &mut AnyConnection,
) -> sqlx::Result<Vec<u64>> {
    if connection.backend_name() != Sqlite::NAME {
        let mut changed = Vec::with_capacity(statements.len());
        for statement in statements {
            changed.push(statement.execute(connection).await?);
        }
        return Ok(changed);
    }
    let mut script = String::new();
    push_statements(statements, &mut script);
    let changed: Vec<u64> = connection
        .fetch_many(bind_all(&script, statements))
        .try_filter_map(|step| async move {
            Ok(match step {
                Either::Left(done) => Some(done.rows_affected()),
                Either::Right(_) => None,
            })
        })
        .try_collect()
        .await?;
    if changed.len() != statements.len() {
        return Err(sqlx::Error::Protocol(format!(
            "a script of {} statements reported {} results",
            statements.len(),
            changed.len()
        )));
    }
    Ok(changed)
}

/// `script` with the parameters of every statement bound in order.
fn bind_all<'q>(
    script: &'q str,
    statements: &'q [Statement],
) -> Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    statements
        .iter()
        .flat_map(|statement| &statement.params)
        .fold(sqlx::query(script), |query, param| param.bind_to(query))
}

/// Appends the statements to `script`, each one's parameters renumbered after the ones before
/// it (SQLite numbers `$n` across the whole script).
fn push_statements(statements: &[Statement], script: &mut String) {
    let mut offset = 0;
    for statement in statements {
        renumber(&statement.sql, offset, script);
        script.push_str(";\n");
        offset += statement.params.len();
    }
}

/// Statements to commit in one transaction, in order.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    statements: Vec<Statement>,
}

impl WriteBatch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, statement: Statement) {
        self.statements.push(statement);
    }

    /// Puts a statement before all the others.
    pub fn add_first(&mut self, statement: Statement) {
        self.statements.insert(0, statement);
    }

    /// Commits every statement or none.
    pub async fn commit(self, db: impl Into<Db>) -> anyhow::Result<()> {
        self.run(&db.into()).await
    }

    async fn run(&self, db: &Db) -> anyhow::Result<()> {
        let mut tx = db.begin().await?;
        tx.execute_all(&self.statements).await?;
        tx.commit().await
    }
}

/// Writes waiting for their database's writer before callers wait to queue more.
const GROUP_QUEUE: usize = 4096;

/// How a database's writer commits: the writes of a whole group of callers in one transaction,
/// or, after the group failed, one caller's writes alone.
pub trait GroupCommit: Send + Sync + 'static {
    type Writes: Send + Sync + 'static;
    type Outcome: Send + 'static;
    /// Callers whose writes one transaction takes at most.
    const GROUP_LIMIT: usize = 32;

    /// Every caller's writes in one transaction; their outcomes, caller by caller.
    fn together(
        &self,
        group: &[&Self::Writes],
    ) -> impl Future<Output = anyhow::Result<Vec<Self::Outcome>>> + Send;

    /// One caller's writes in a transaction of their own.
    fn alone(
        &self,
        writes: &Self::Writes,
    ) -> impl Future<Output = anyhow::Result<Self::Outcome>> + Send;
}

/// Writes waiting for the writer, with where their outcome goes.
struct Queued<C: GroupCommit> {
    writes: C::Writes,
    outcome: oneshot::Sender<anyhow::Result<C::Outcome>>,
}

/// Commits the writes of concurrent callers to one database together, in one transaction a
/// group (group commit): each commit writes every page it touched to the write-ahead log, so
/// the callers of a group share the pages they all append to (a table's last leaf, an index by
/// time) and one hand-off to the connection. A group that fails (a repeated request meets its
/// first idempotency record) is rolled back, and its callers' writes are committed one by one.
pub struct GroupWriter<C: GroupCommit = Batches> {
    db: Db,
    queue: mpsc::Sender<Queued<C>>,
}

impl<C: GroupCommit> Clone for GroupWriter<C> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            queue: self.queue.clone(),
        }
    }
}

impl<C: GroupCommit> GroupWriter<C> {
    /// A writer over `db` that commits with `committer`, with its task; the task ends when
    /// the last clone is dropped.
    pub fn with(db: impl Into<Db>, committer: C) -> Self {
        let (queue, queued) = mpsc::channel(GROUP_QUEUE);
        tokio::spawn(write_queued(committer, queued));
        Self {
            db: db.into(),
            queue,
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Commits `writes`, with whatever other callers' writes are queued.
    pub async fn commit(&self, writes: C::Writes) -> anyhow::Result<C::Outcome> {
        let (outcome, answer) = oneshot::channel();
        let stopped = || anyhow::anyhow!("the database writer has stopped");
        self.queue
            .send(Queued { writes, outcome })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl GroupWriter {
    /// A writer of [`WriteBatch`]es over `db`.
    pub fn new(db: impl Into<Db>) -> Self {
        let db = db.into();
        Self::with(db.clone(), Batches(db))
    }
}

/// The writer task: commits what is queued, a group at a time, until every sender is gone.
async fn write_queued<C: GroupCommit>(committer: C, mut queue: mpsc::Receiver<Queued<C>>) {
    let mut group = Vec::with_capacity(C::GROUP_LIMIT);
    while queue.recv_many(&mut group, C::GROUP_LIMIT).await > 0 {
        if group.len() > 1 {
            let writes: Vec<&C::Writes> = group.iter().map(|queued| &queued.writes).collect();
            match committer.together(&writes).await {
                Ok(outcomes) => {
                    for (queued, outcome) in group.drain(..).zip(outcomes) {
                        let _ = queued.outcome.send(Ok(outcome));
                    }
                    continue;
                }
                Err(error) => {
                    tracing::debug!(%error, callers = group.len(), "group commit failed; committing each alone");
                }
            }
        }
        for queued in group.drain(..) {
            let outcome = committer.alone(&queued.writes).await;
            let _ = queued.outcome.send(outcome);
        }
    }
}

/// [`WriteBatch`]es, each all or nothing.
pub struct Batches(Db);

impl GroupCommit for Batches {
    type Writes = WriteBatch;
    type Outcome = ();

    async fn together(&self, group: &[&WriteBatch]) -> anyhow::Result<Vec<()>> {
        let together = WriteBatch {
            statements: group
                .iter()
                .flat_map(|batch| batch.statements.iter().cloned())
                .collect(),
        };
        together.run(&self.0).await?;
        Ok(vec![(); group.len()])
    }

    async fn alone(&self, batch: &WriteBatch) -> anyhow::Result<()> {
        batch.run(&self.0).await
    }
}

/// Copies `sql` with every `$n` written as `$(n + offset)`. The stores' statements hold no `$`
/// inside string literals, which this does not look into.
fn renumber(sql: &str, offset: usize, out: &mut String) {
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(number) => {
                let _ = write!(out, "{}", number + offset);
            }
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use sqlx::AnyPool;

    use super::*;
    use crate::storage::{Checkpoints, connect, testing};

    static NO_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

    #[test]
    fn parameters_are_numbered_after_the_statements_before_them() {
        let mut script = String::new();
        renumber("INSERT INTO t (a, b) VALUES ($1, $2) -- $x", 3, &mut script);
        assert_eq!(script, "INSERT INTO t (a, b) VALUES ($4, $5) -- $x");
    }

    fn insert(id: i64, label: Option<&str>) -> Statement {
        Statement::new("INSERT INTO batch_test (id, label) VALUES ($1, $2)")
            .bind(id)
            .bind(label)
    }

    /// A pool on `url` with an empty `batch_test` table.
    async fn pool_with_table(url: &str) -> AnyPool {
        let pool = connect(url, &NO_MIGRATIONS).await.unwrap();
        sqlx::query("CREATE TABLE batch_test (id BIGINT PRIMARY KEY, label TEXT)")
            .execute(&pool)
            .await
            .unwrap();
        pool
    }

    async fn rows(db: impl Into<Db>) -> Vec<(i64, Option<String>)> {
        db.into()
            .fetch_all(&Statement::new(
                "SELECT id, label FROM batch_test ORDER BY id",
            ))
            .await
            .unwrap()
    }

    /// A database on `url`, SQLite called directly, with an empty `batch_test` table.
    async fn db_with_table(url: &str) -> Db {
        let db = Db::connect(url, &NO_MIGRATIONS, Checkpoints::Periodic)
            .await
            .unwrap();
        db.execute(&Statement::new(
            "CREATE TABLE batch_test (id BIGINT PRIMARY KEY, label TEXT)",
        ))
        .await
        .unwrap();
        db
    }

    #[tokio::test]
    async fn a_batch_commits_all_its_statements_or_none_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let db = db_with_table(&database.url).await;

            let mut batch = WriteBatch::new();
            batch.add(insert(1, Some("one")));
            batch.add(insert(2, None));
            batch.add(
                Statement::new("UPDATE batch_test SET label = $1 WHERE id = $2")
                    .bind("uno")
                    .bind(1),
            );
            batch.commit(&db).await.unwrap();
            assert_eq!(
                rows(&db).await,
                vec![(1, Some("uno".into())), (2, None)],
                "{:?}",
                database.backend
            );

            let mut failing = WriteBatch::new();
            failing.add(insert(3, Some("three")));
            failing.add(insert(1, Some("clash")));
            assert!(failing.commit(&db).await.is_err());
            assert_eq!(rows(&db).await.len(), 2, "{:?}", database.backend);

            // Every connection of the pool is still usable after the failure.
            for id in 10..20 {
                let mut batch = WriteBatch::new();
                batch.add(insert(id, Some("later")));
                batch.commit(&db).await.unwrap();
            }
            assert_eq!(rows(&db).await.len(), 12, "{:?}", database.backend);
        }
    }

    #[tokio::test]
    async fn concurrent_batches_commit_together_and_a_failing_one_alone_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let db = db_with_table(&database.url).await;
            let writer = GroupWriter::new(db.clone());
            let mut first = WriteBatch::new();
            first.add(insert(1, Some("one")));
            writer.commit(first).await.unwrap();

            // Queued at once, they meet in groups; the clash with row 1 fails its own batch,
            // whose first statement is rolled back with it, and no other.
            let batches = (2..40).map(|id| {
                let writer = writer.clone();
                let mut batch = WriteBatch::new();
                batch.add(insert(id * 10, Some("own")));
                batch.add(insert(if id == 7 { 1 } else { id * 10 + 1 }, None));
                async move { (id, writer.commit(batch).await) }
            });
            for (id, outcome) in futures::future::join_all(batches).await {
                assert_eq!(outcome.is_err(), id == 7, "{id} {:?}", database.backend);
            }
            let stored = rows(&db).await;
            assert_eq!(stored.len(), 1 + 2 * 37, "{:?}", database.backend);
            assert!(
                stored.iter().all(|(id, _)| *id != 70),
                "{:?}",
                database.backend
            );
        }
    }

    #[tokio::test]
    async fn statements_in_a_held_transaction_report_the_rows_each_changed_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let pool = pool_with_table(&database.url).await;
            let statements = [
                insert(1, Some("one")),
                insert(2, Some("two")),
                Statement::new(
                    "INSERT INTO batch_test (id, label) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                )
                .bind(1)
                .bind("again"),
                Statement::new("UPDATE batch_test SET label = $1 WHERE id >= $2")
                    .bind("many")
                    .bind(1),
                Statement::new("UPDATE batch_test SET label = $1 WHERE id = $2")
                    .bind("none")
                    .bind(99),
            ];
            let mut tx = pool.begin().await.unwrap();
            let changed = execute_all(&statements, &mut tx).await.unwrap();
            assert_eq!(changed, vec![1, 1, 0, 2, 0], "{:?}", database.backend);
            tx.rollback().await.unwrap();
            assert!(rows(&pool).await.is_empty(), "{:?}", database.backend);

            // The same shape again (on SQLite, the cached script) with other values.
            let mut tx = pool.begin().await.unwrap();
            let again = [insert(5, None), insert(5, None)];
            assert!(execute_all(&again, &mut tx).await.is_err());
            drop(tx);
            let mut tx = pool.begin().await.unwrap();
            let changed = execute_all(&statements[..2], &mut tx).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(changed, vec![1, 1], "{:?}", database.backend);
            assert_eq!(
                rows(&pool).await,
                vec![(1, Some("one".into())), (2, Some("two".into()))],
                "{:?}",
                database.backend
            );
        }
    }
}
