//! Statements, and the writes of one call gathered first and committed together in one
//! transaction. A [`GroupWriter`] commits the writes of concurrent calls to one database in one
//! transaction.

use std::{borrow::Cow, future::Future};

use sqlx::{Any, query::Query};
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
    pub async fn commit(&self, db: &Db) -> anyhow::Result<()> {
        db.execute_atomically(&self.statements).await
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
/// time) and one commit. A group that fails (a repeated request meets its
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
    pub fn with(db: Db, committer: C) -> Self {
        let (queue, queued) = mpsc::channel(GROUP_QUEUE);
        tokio::spawn(write_queued(committer, queued));
        Self { db, queue }
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
    pub fn new(db: Db) -> Self {
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
        together.commit(&self.0).await?;
        Ok(vec![(); group.len()])
    }

    async fn alone(&self, batch: &WriteBatch) -> anyhow::Result<()> {
        batch.commit(&self.0).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Checkpoints, testing};

    static NO_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

    fn insert(id: i64, label: Option<&str>) -> Statement {
        Statement::new("INSERT INTO batch_test (id, label) VALUES ($1, $2)")
            .bind(id)
            .bind(label)
    }

    async fn rows(db: &Db) -> Vec<(i64, Option<String>)> {
        db.fetch_all(&Statement::new(
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
}
