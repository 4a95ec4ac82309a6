//! Persistence of sanitary assessments; the only place this service writes SQL.

use bordermesh_kit::storage::{encode_record, fetch_record, now_millis};
use bordermesh_proto::{common::v1::Verdict, sanitary::v1::Assessment};
use sqlx::{Any, AnyPool, Transaction};
use uuid::Uuid;

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

impl Store {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn insert_assessment(
        &self,
        tx: &mut Transaction<'_, Any>,
        crossing_point: &str,
        assessment: &Assessment,
    ) -> sqlx::Result<()> {
        let verdict = Verdict::try_from(assessment.verdict)
            .unwrap_or_default()
            .as_str_name();
        sqlx::query(
            "INSERT INTO assessments (assessment_id, crossing_point, verdict, created_at, record) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&assessment.assessment_id)
        .bind(crossing_point)
        .bind(verdict)
        .bind(now_millis())
        .bind(encode_record(assessment))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn get_assessment(&self, id: Uuid) -> anyhow::Result<Option<Assessment>> {
        fetch_record(
            &self.pool,
            "SELECT record FROM assessments WHERE assessment_id = $1",
            &id.to_string(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use bordermesh_kit::storage::{connect, testing};

    use super::*;

    #[tokio::test]
    async fn an_assessment_is_read_back_as_written_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = Store::new(connect(&database.url, &crate::MIGRATIONS).await.unwrap());
            let assessment = Assessment {
                assessment_id: Uuid::new_v4().to_string(),
                verdict: Verdict::Refer.into(),
                ..Default::default()
            };
            let mut tx = store.pool().begin().await.unwrap();
            store
                .insert_assessment(&mut tx, "HR-BAJAKOVO", &assessment)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let id = Uuid::parse_str(&assessment.assessment_id).unwrap();
            assert_eq!(
                store.get_assessment(id).await.unwrap(),
                Some(assessment),
                "{:?}",
                database.backend
            );
        }
    }
}
