//! Persistence of traveller checks; the only place this service writes SQL.

use bordermesh_kit::storage::{encode_record, fetch_record, now_millis};
use bordermesh_proto::identity::v1::TravellerCheck;
use sqlx::{Any, AnyPool, Transaction};
use uuid::Uuid;

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

/// What the index columns say about a check, beside the encoded record.
pub struct CheckRow<'a> {
    pub crossing_point: &'a str,
    pub direction: &'a str,
    pub verdict: &'a str,
    pub nationality: &'a str,
}

impl Store {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn insert_check(
        &self,
        tx: &mut Transaction<'_, Any>,
        row: &CheckRow<'_>,
        check: &TravellerCheck,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO traveller_checks (check_id, crossing_point, direction, verdict, nationality, created_at, record) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&check.check_id)
        .bind(row.crossing_point)
        .bind(row.direction)
        .bind(row.verdict)
        .bind(row.nationality)
        .bind(now_millis())
        .bind(encode_record(check))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn get_check(&self, check_id: Uuid) -> anyhow::Result<Option<TravellerCheck>> {
        fetch_record(
            &self.pool,
            "SELECT record FROM traveller_checks WHERE check_id = $1",
            &check_id.to_string(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use bordermesh_kit::storage::{connect, testing};

    use super::*;

    #[tokio::test]
    async fn a_check_is_read_back_as_written_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = Store::new(connect(&database.url, &crate::MIGRATIONS).await.unwrap());
            let check = TravellerCheck {
                check_id: Uuid::new_v4().to_string(),
                reference: "driver".into(),
                verdict: 1,
                ..Default::default()
            };
            let mut tx = store.pool().begin().await.unwrap();
            let row = CheckRow {
                crossing_point: "SI-OBREZJE",
                direction: "ENTRY",
                verdict: "CLEAR",
                nationality: "SRB",
            };
            store.insert_check(&mut tx, &row, &check).await.unwrap();
            tx.commit().await.unwrap();
            let id = Uuid::parse_str(&check.check_id).unwrap();
            assert_eq!(
                store.get_check(id).await.unwrap(),
                Some(check),
                "{:?}",
                database.backend
            );
            assert_eq!(store.get_check(Uuid::new_v4()).await.unwrap(), None);
        }
    }
}
