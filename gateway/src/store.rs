//! Persistence of crossings; the only place the gateway writes SQL.

use bordermesh_kit::storage::{encode_record, fetch_record, now_millis};
use bordermesh_proto::crossing::v1::{Crossing, CrossingStatus, Outcome};
use sqlx::AnyPool;

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

fn status_name(crossing: &Crossing) -> &'static str {
    CrossingStatus::try_from(crossing.status)
        .unwrap_or_default()
        .as_str_name()
}

fn outcome_name(crossing: &Crossing) -> &'static str {
    crossing
        .decision
        .as_ref()
        .and_then(|d| Outcome::try_from(d.outcome).ok())
        .unwrap_or_default()
        .as_str_name()
}

impl Store {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Stores a crossing unless one with its request id exists; answers the stored one.
    pub async fn insert_once(&self, crossing: &Crossing) -> anyhow::Result<Crossing> {
        let submission = crossing.submission.as_ref();
        let point = submission
            .and_then(|s| s.crossing_point.as_ref())
            .map_or("", |p| p.code.as_str());
        let direction = submission.map_or(0, |s| s.direction);
        let now = now_millis();
        sqlx::query(
            "INSERT INTO crossings (crossing_id, request_id, crossing_point, direction, status, outcome, created_at, updated_at, record) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (request_id) DO NOTHING",
        )
        .bind(&crossing.crossing_id)
        .bind(&crossing.request_id)
        .bind(point)
        .bind(
            bordermesh_proto::common::v1::Direction::try_from(direction)
                .unwrap_or_default()
                .as_str_name(),
        )
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

    use super::*;

    #[tokio::test]
    async fn a_request_id_stores_one_crossing_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = Store::new(connect(&database.url, &crate::MIGRATIONS).await.unwrap());
            let first = Crossing {
                crossing_id: uuid::Uuid::new_v4().to_string(),
                request_id: "r-1".into(),
                status: CrossingStatus::Decided.into(),
                ..Default::default()
            };
            let second = Crossing {
                crossing_id: uuid::Uuid::new_v4().to_string(),
                ..first.clone()
            };
            assert_eq!(store.insert_once(&first).await.unwrap(), first);
            assert_eq!(
                store.insert_once(&second).await.unwrap(),
                first,
                "{:?}",
                database.backend
            );
            assert_eq!(store.count().await.unwrap(), 1);
            assert_eq!(store.by_id(&first.crossing_id).await.unwrap(), Some(first));
            assert_eq!(store.by_id(&second.crossing_id).await.unwrap(), None);
        }
    }
}
