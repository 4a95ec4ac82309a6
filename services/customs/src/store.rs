//! Persistence of lodged declarations; the only place this service writes SQL.

use bordermesh_kit::storage::{encode_record, fetch_record, now_millis};
use bordermesh_proto::customs::v1::Declaration;
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

    pub async fn insert_declaration(
        &self,
        tx: &mut Transaction<'_, Any>,
        crossing_point: &str,
        procedure: &str,
        declaration: &Declaration,
    ) -> sqlx::Result<()> {
        let verdict = bordermesh_proto::common::v1::Verdict::try_from(declaration.verdict)
            .unwrap_or_default()
            .as_str_name();
        sqlx::query(
            "INSERT INTO declarations (declaration_id, mrn, crossing_point, procedure_code, verdict, created_at, record) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&declaration.declaration_id)
        .bind(&declaration.mrn)
        .bind(crossing_point)
        .bind(procedure)
        .bind(verdict)
        .bind(now_millis())
        .bind(encode_record(declaration))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn get_declaration(&self, id: Uuid) -> anyhow::Result<Option<Declaration>> {
        fetch_record(
            &self.pool,
            "SELECT record FROM declarations WHERE declaration_id = $1",
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
    async fn a_declaration_is_read_back_and_its_mrn_is_unique_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = Store::new(connect(&database.url, &crate::MIGRATIONS).await.unwrap());
            let declaration = Declaration {
                declaration_id: Uuid::new_v4().to_string(),
                mrn: "26SI0000000000000X".into(),
                verdict: 1,
                ..Default::default()
            };
            let mut tx = store.pool().begin().await.unwrap();
            store
                .insert_declaration(&mut tx, "SI-OBREZJE", "IMPORT", &declaration)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let id = Uuid::parse_str(&declaration.declaration_id).unwrap();
            assert_eq!(
                store.get_declaration(id).await.unwrap(),
                Some(declaration.clone())
            );

            let twin = Declaration {
                declaration_id: Uuid::new_v4().to_string(),
                ..declaration
            };
            let mut tx = store.pool().begin().await.unwrap();
            let duplicate = store
                .insert_declaration(&mut tx, "SI-OBREZJE", "IMPORT", &twin)
                .await;
            assert!(duplicate.is_err(), "{:?}", database.backend);
        }
    }
}
