//! Persistence of crossings and of the saga log; the only place the gateway writes SQL.

use bordermesh_kit::storage::{encode_record, fetch_record, now_millis};
use bordermesh_proto::crossing::v1::{Crossing, Outcome};
use sqlx::AnyPool;

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

fn status_name(crossing: &Crossing) -> &'static str {
    crossing.status().as_str_name()
}

fn outcome_name(crossing: &Crossing) -> &'static str {
    crossing
        .decision
        .as_ref()
        .map_or(Outcome::Unspecified, |d| d.outcome())
        .as_str_name()
}

const PENDING: &str = "CROSSING_STATUS_PENDING";
const STEP_INTENT: &str = "INTENT";
const STEP_DONE: &str = "DONE";

/// Where a listing resumes: after this creation time and crossing id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPosition {
    pub created_at: i64,
    pub crossing_id: String,
}

impl Store {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Stores a new PENDING crossing unless one with its request id exists; answers the stored
    /// one, so that concurrent copies of a request all continue with the same crossing.
    pub async fn accept(&self, crossing: &Crossing) -> anyhow::Result<Crossing> {
        let submission = crossing.submission.as_ref();
        let point = submission
            .and_then(|s| s.crossing_point.as_ref())
            .map_or("", |p| p.code.as_str());
        let direction = submission.map_or(Default::default(), |s| s.direction());
        let now = now_millis();
        sqlx::query(
            "INSERT INTO crossings (crossing_id, request_id, crossing_point, direction, status, outcome, created_at, updated_at, record) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (request_id) DO NOTHING",
        )
        .bind(&crossing.crossing_id)
        .bind(&crossing.request_id)
        .bind(point)
        .bind(direction.as_str_name())
        .bind(status_name(crossing))
        .bind(outcome_name(crossing))
        .bind(now)
        .bind(now)
        .bind(encode_record(crossing))
        .execute(&self.pool)
        .await?;
        self.by_request_id(&crossing.request_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("crossing vanished after insert"))
    }

    /// Moves a PENDING crossing to its next state (decided or rejected); false when another
    /// driver of the same crossing got there first.
    pub async fn finish(
        &self,
        crossing: &Crossing,
        rejection: Option<&str>,
    ) -> anyhow::Result<bool> {
        let updated = sqlx::query(
            "UPDATE crossings SET status = $1, outcome = $2, updated_at = $3, record = $4, rejection = $5 \
             WHERE crossing_id = $6 AND status = $7",
        )
        .bind(status_name(crossing))
        .bind(outcome_name(crossing))
        .bind(now_millis())
        .bind(encode_record(crossing))
        .bind(rejection)
        .bind(&crossing.crossing_id)
        .bind(PENDING)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// The saved refusal of a rejected crossing.
    pub async fn rejection(&self, crossing_id: &str) -> anyhow::Result<Option<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT rejection FROM crossings WHERE crossing_id = $1")
                .bind(crossing_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(rejection,)| rejection))
    }

    pub async fn by_request_id(&self, request_id: &str) -> anyhow::Result<Option<Crossing>> {
        fetch_record(
            &self.pool,
            "SELECT record FROM crossings WHERE request_id = $1",
            request_id,
        )
        .await
    }

    pub async fn by_id(&self, crossing_id: &str) -> anyhow::Result<Option<Crossing>> {
        fetch_record(
            &self.pool,
            "SELECT record FROM crossings WHERE crossing_id = $1",
            crossing_id,
        )
        .await
    }

    /// Crossings still PENDING whose last change is older than `idle_ms`, oldest first.
    pub async fn pending(&self, idle_ms: i64, limit: i64) -> anyhow::Result<Vec<Crossing>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT record FROM crossings WHERE status = $1 AND updated_at <= $2 ORDER BY updated_at LIMIT $3",
        )
        .bind(PENDING)
        .bind(now_millis() - idle_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|(record,)| bordermesh_kit::storage::decode_record(record))
            .collect()
    }

    /// A page of a crossing point's crossings created in `[start_ms, end_ms)`, after `after`.
    pub async fn list(
        &self,
        crossing_point: &str,
        start_ms: i64,
        end_ms: i64,
        after: Option<&ListPosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<(ListPosition, Crossing)>> {
        let (after_time, after_id) =
            after.map_or((i64::MIN, ""), |p| (p.created_at, p.crossing_id.as_str()));
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT created_at, crossing_id, record FROM crossings \
             WHERE crossing_point = $1 AND created_at >= $2 AND created_at < $3 \
             AND (created_at > $4 OR (created_at = $4 AND crossing_id > $5)) \
             ORDER BY created_at, crossing_id LIMIT $6",
        )
        .bind(crossing_point)
        .bind(start_ms)
        .bind(end_ms)
        .bind(after_time)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(created_at, crossing_id, record)| {
                let crossing = bordermesh_kit::storage::decode_record(&record)?;
                Ok((
                    ListPosition {
                        created_at,
                        crossing_id,
                    },
                    crossing,
                ))
            })
            .collect()
    }

    /// The agency's saved answer to a step that completed.
    pub async fn step_response(
        &self,
        crossing_id: &str,
        step: &str,
    ) -> anyhow::Result<Option<String>> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT response FROM saga_steps WHERE crossing_id = $1 AND step = $2 AND state = $3",
        )
        .bind(crossing_id)
        .bind(step)
        .bind(STEP_DONE)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(response,)| response))
    }

    /// Writes that a step is about to call its agency (or is tried once more).
    pub async fn step_intent(&self, crossing_id: &str, step: &str) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO saga_steps (crossing_id, step, state, response, attempts, updated_at) \
             VALUES ($1, $2, $3, NULL, 1, $4) \
             ON CONFLICT (crossing_id, step) DO UPDATE SET attempts = saga_steps.attempts + 1, updated_at = $4",
        )
        .bind(crossing_id)
        .bind(step)
        .bind(STEP_INTENT)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Writes the agency's answer to a step.
    pub async fn step_done(
        &self,
        crossing_id: &str,
        step: &str,
        response: &str,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE saga_steps SET state = $1, response = $2, updated_at = $3 WHERE crossing_id = $4 AND step = $5",
        )
        .bind(STEP_DONE)
        .bind(response)
        .bind(now_millis())
        .bind(crossing_id)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn count(&self) -> anyhow::Result<i64> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM crossings")
            .fetch_one(&self.pool)
            .await?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use bordermesh_kit::storage::{connect, testing};

    use bordermesh_proto::crossing::v1::CrossingStatus;

    use super::*;

    fn pending(request_id: &str) -> Crossing {
        Crossing {
            crossing_id: uuid::Uuid::new_v4().to_string(),
            request_id: request_id.into(),
            status: CrossingStatus::Pending.into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_request_id_stores_one_crossing_that_finishes_once_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = Store::new(connect(&database.url, &crate::MIGRATIONS).await.unwrap());
            let first = pending("r-1");
            let second = pending("r-1");
            assert_eq!(store.accept(&first).await.unwrap(), first);
            assert_eq!(
                store.accept(&second).await.unwrap(),
                first,
                "{:?}",
                database.backend
            );
            assert_eq!(store.count().await.unwrap(), 1);
            assert_eq!(
                store.pending(0, 10).await.unwrap(),
                std::slice::from_ref(&first)
            );

            let decided = Crossing {
                status: CrossingStatus::Decided.into(),
                ..first.clone()
            };
            assert!(store.finish(&decided, None).await.unwrap());
            assert!(
                !store.finish(&decided, None).await.unwrap(),
                "finishes once"
            );
            assert_eq!(
                store.by_id(&first.crossing_id).await.unwrap(),
                Some(decided)
            );
            assert!(store.pending(0, 10).await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn a_step_remembers_its_answer_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = Store::new(connect(&database.url, &crate::MIGRATIONS).await.unwrap());
            store.step_intent("c-1", "customs").await.unwrap();
            assert_eq!(store.step_response("c-1", "customs").await.unwrap(), None);
            store.step_intent("c-1", "customs").await.unwrap();
            store.step_done("c-1", "customs", "answer").await.unwrap();
            assert_eq!(
                store
                    .step_response("c-1", "customs")
                    .await
                    .unwrap()
                    .as_deref(),
                Some("answer"),
                "{:?}",
                database.backend
            );
        }
    }

    #[tokio::test]
    async fn listing_pages_by_creation_time_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = Store::new(connect(&database.url, &crate::MIGRATIONS).await.unwrap());
            for index in 0..5 {
                let mut crossing = pending(&format!("r-{index}"));
                crossing.submission = Some(bordermesh_proto::crossing::v1::CrossingSubmission {
                    crossing_point: Some(bordermesh_proto::common::v1::CrossingPoint {
                        code: "SI-OBREZJE".into(),
                        country: "SVN".into(),
                    }),
                    ..Default::default()
                });
                store.accept(&crossing).await.unwrap();
            }
            let first = store
                .list("SI-OBREZJE", 0, i64::MAX, None, 3)
                .await
                .unwrap();
            assert_eq!(first.len(), 3);
            let rest = store
                .list("SI-OBREZJE", 0, i64::MAX, Some(&first[2].0), 3)
                .await
                .unwrap();
            assert_eq!(rest.len(), 2, "{:?}", database.backend);
            assert!(
                store
                    .list("HR-BAJAKOVO", 0, i64::MAX, None, 3)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
    }
}
