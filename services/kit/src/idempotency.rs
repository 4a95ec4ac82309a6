//! AIP-155 idempotency: a mutating call with a `request_id` that was seen before returns the
//! saved first answer; the same id with a different request is refused.
//!
//! The answer is saved in the same transaction as the call's own writes, so a call has its
//! effect exactly once even when two copies race: the loser rolls back and replays the winner.

use prost::Message;
use sha2::{Digest, Sha256};
use tonic::{Code, Status};

use crate::{
    db::{Db, Tx},
    error,
    storage::{decode_record, encode_record, now_millis},
    writes::{GroupWriter, Statement, WriteBatch},
};

/// How an idempotent call begins: with the saved answer to a repeat, or with a transaction for
/// the first call's writes.
pub enum Start<R> {
    Replayed(R),
    Fresh(Tx),
}

const INSERT_ANSWER: &str = "INSERT INTO idempotency_keys \
    (scope, request_id, request_digest, response, created_at) VALUES ($1, $2, $3, $4, $5)";
const INSERT_ANSWER_UNLESS_SAVED: &str = "INSERT INTO idempotency_keys \
    (scope, request_id, request_digest, response, created_at) VALUES ($1, $2, $3, $4, $5) \
    ON CONFLICT (scope, request_id) DO NOTHING";

/// The row that saves `response`, already encoded, as the answer to `request_id` in `scope`;
/// its commit fails when the request id has an answer already.
pub fn answer_row(scope: &str, request_id: &str, digest: &str, response: String) -> Statement {
    insert_answer(INSERT_ANSWER, scope, request_id, digest, response)
}

fn insert_answer(
    sql: &'static str,
    scope: &str,
    request_id: &str,
    digest: &str,
    response: String,
) -> Statement {
    Statement::new(sql)
        .bind(scope)
        .bind(request_id)
        .bind(digest)
        .bind(response)
        .bind(now_millis())
}

/// One idempotent call: which RPC, which request id, and a digest of the request.
pub struct IdempotentCall {
    scope: &'static str,
    request_id: String,
    digest: String,
}

impl IdempotentCall {
    /// `scope` names the RPC (`customs.AssessDeclaration`); the digest covers the whole request.
    pub fn new(scope: &'static str, request_id: &str, request: &impl Message) -> Self {
        Self {
            scope,
            request_id: request_id.to_owned(),
            digest: hex::encode(Sha256::digest(request.encode_to_vec())),
        }
    }

    /// Saves `response` with the call's `writes` and commits them together, the saved answer
    /// first: when a copy of the call committed before, its answer is met at once, everything
    /// rolls back and the first answer is returned.
    pub async fn commit_writes<R: Message + Default>(
        &self,
        writer: &GroupWriter,
        mut writes: WriteBatch,
        response: R,
    ) -> Result<R, Status> {
        writes.add_first(answer_row(
            self.scope,
            &self.request_id,
            &self.digest,
            encode_record(&response),
        ));
        let Err(failure) = writer.commit(writes).await else {
            return Ok(response);
        };
        match self.replay(writer.db()).await? {
            Some(first) => Ok(first),
            None => Err(error::internal("committing a call's writes", failure)),
        }
    }

    /// The saved answer for this request id, if there is one.
    pub async fn replay<R: Message + Default>(&self, db: &Db) -> Result<Option<R>, Status> {
        let row = db
            .fetch_optional(&self.saved_answer())
            .await
            .map_err(|e| error::internal("reading idempotency key", e))?;
        self.answer(row)
    }

    /// The saved answer to a repeat, or else the transaction for the first call's writes. The
    /// transaction begins first and the answer is looked up inside it, so the call's own reads
    /// run in the same transaction.
    pub async fn start<R: Message + Default>(&self, db: &Db) -> Result<Start<R>, Status> {
        let mut tx = self.begin(db).await?;
        let row = tx
            .fetch_optional(&self.saved_answer())
            .await
            .map_err(|e| error::internal("reading idempotency key", e))?;
        Ok(match self.answer(row)? {
            Some(saved) => Start::Replayed(saved),
            None => Start::Fresh(tx),
        })
    }

    /// The transaction for the call's writes, without looking for a saved answer first: either
    /// the call looked with [`Self::replay`] already, or it leaves a repeat to
    /// [`Self::commit`], which rolls the repeat's writes back and returns the first answer.
    pub async fn begin(&self, db: &Db) -> Result<Tx, Status> {
        db.begin()
            .await
            .map_err(|e| error::internal("starting a transaction", e))
    }

    /// Saves `response` with the call's writes in `tx` and commits. When a concurrent copy of
    /// the call committed first, this one is rolled back and the winner's answer returned.
    pub async fn commit<R: Message + Default>(
        &self,
        db: &Db,
        mut tx: Tx,
        response: R,
    ) -> Result<R, Status> {
        let saved = tx
            .execute(&insert_answer(
                INSERT_ANSWER_UNLESS_SAVED,
                self.scope,
                &self.request_id,
                &self.digest,
                encode_record(&response),
            ))
            .await
            .map_err(|e| error::internal("saving idempotency key", e))?;
        if saved == 1 {
            tx.commit()
                .await
                .map_err(|e| error::internal("committing", e))?;
            return Ok(response);
        }
        tx.rollback()
            .await
            .map_err(|e| error::internal("rolling back a duplicate", e))?;
        self.replay(db).await?.ok_or_else(|| {
            error::internal("replaying a concurrent duplicate", "saved answer vanished")
        })
    }

    fn saved_answer(&self) -> Statement {
        Statement::new(
            "SELECT request_digest, response FROM idempotency_keys WHERE scope = $1 AND request_id = $2",
        )
        .bind(self.scope)
        .bind(&self.request_id)
    }

    /// The saved answer in `row`, unless the request id was used for another request.
    fn answer<R: Message + Default>(
        &self,
        row: Option<(String, String)>,
    ) -> Result<Option<R>, Status> {
        let Some((digest, response)) = row else {
            return Ok(None);
        };
        if digest != self.digest {
            return Err(error::status(
                Code::AlreadyExists,
                "REQUEST_ID_REUSED",
                "request_id was already used for a different request",
            ));
        }
        decode_record(&response)
            .map(Some)
            .map_err(|e| error::internal("decoding saved response", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Checkpoints, testing};

    static NO_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

    #[tokio::test]
    async fn a_repeat_replays_the_first_answer_and_a_different_request_is_refused() {
        for database in testing::databases().await.unwrap() {
            let db = Db::connect(&database.url, &NO_MIGRATIONS, Checkpoints::Periodic)
                .await
                .unwrap();
            let first = prost_types::Duration {
                seconds: 1,
                nanos: 0,
            };
            let call = IdempotentCall::new("test.Call", "id-1", &first);
            assert!(
                call.replay::<prost_types::Duration>(&db)
                    .await
                    .unwrap()
                    .is_none()
            );
            let tx = db.begin().await.unwrap();
            call.commit(&db, tx, first).await.unwrap();

            let tx = db.begin().await.unwrap();
            let second_answer = prost_types::Duration {
                seconds: 2,
                nanos: 0,
            };
            let replayed = call.commit(&db, tx, second_answer).await.unwrap();
            assert_eq!(replayed, first, "{:?}", database.backend);

            let other = IdempotentCall::new("test.Call", "id-1", &prost_types::Duration::default());
            let refused = other
                .replay::<prost_types::Duration>(&db)
                .await
                .unwrap_err();
            assert_eq!(refused.code(), Code::AlreadyExists);
        }
    }
}
