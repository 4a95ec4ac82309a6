//! Persistence of lodged declarations, cash records for the financial intelligence unit and
//! transit movements; the only place this service writes SQL.

use bordermesh_kit::{
    db::{Db, Tx},
    storage::{decode_record, encode_record, now_millis},
    writes::{GroupWriter, Statement},
};
use bordermesh_proto::customs::v1::{
    Declaration, DeclarationStatus, TransitMovement, TransitStatus,
};
use uuid::Uuid;

use crate::domain::cash::FiuRecord;

#[derive(Clone)]
pub struct Store {
    db: Db,
    writer: GroupWriter,
}

/// Where a record for the FIU comes from.
pub struct FiuContext<'a> {
    pub declaration_id: &'a str,
    pub crossing_point: &'a str,
    pub currency_code: &'a str,
}

/// A stored FIU record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFiuRecord {
    pub record_id: String,
    pub traveller_reference: String,
    pub compliance: String,
    pub value_amount: String,
    pub declared_amount: String,
    pub currency_code: String,
    pub cash_forms: String,
}

fn status_name(movement: &TransitMovement) -> &'static str {
    TransitStatus::try_from(movement.status)
        .unwrap_or_default()
        .as_str_name()
}

impl Store {
    pub fn new(db: Db) -> Self {
        let writer = GroupWriter::new(db.clone());
        Self { db, writer }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Commits the declarations of concurrent calls together.
    pub fn writer(&self) -> &GroupWriter {
        &self.writer
    }

    /// The statement that lodges a declaration.
    pub fn declaration_insert(
        crossing_point: &str,
        procedure: &str,
        declaration: &Declaration,
    ) -> Statement {
        let verdict = bordermesh_proto::common::v1::Verdict::try_from(declaration.verdict)
            .unwrap_or_default()
            .as_str_name();
        Statement::new(
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
    }

    pub async fn get_declaration(&self, id: Uuid) -> anyhow::Result<Option<Declaration>> {
        self.db
            .fetch_record(
                &Statement::new("SELECT record FROM declarations WHERE declaration_id = $1")
                    .bind(id.to_string()),
            )
            .await
    }

    /// Locks a declaration for a decision in `tx` (a no-op write: a row lock on PostgreSQL, the
    /// write lock on SQLite), so that concurrent decisions run one after the other; then reads
    /// it. `None` when there is no such declaration.
    pub async fn lock_declaration(
        &self,
        tx: &mut Tx,
        id: Uuid,
    ) -> anyhow::Result<Option<Declaration>> {
        let id = id.to_string();
        let locked = tx
            .execute(
                &Statement::new(
                    "UPDATE declarations SET verdict = verdict WHERE declaration_id = $1",
                )
                .bind(&id),
            )
            .await?;
        if locked == 0 {
            return Ok(None);
        }
        tx.fetch_record(
            &Statement::new("SELECT record FROM declarations WHERE declaration_id = $1").bind(&id),
        )
        .await
    }

    /// Saves a decided or invalidated declaration.
    pub async fn update_declaration(
        &self,
        tx: &mut Tx,
        declaration: &Declaration,
    ) -> anyhow::Result<()> {
        let verdict = bordermesh_proto::common::v1::Verdict::try_from(declaration.verdict)
            .unwrap_or_default()
            .as_str_name();
        let status = match declaration.status() {
            DeclarationStatus::Unspecified => DeclarationStatus::Lodged,
            status => status,
        };
        tx.execute(
            &Statement::new(
                "UPDATE declarations SET verdict = $1, status = $2, record = $3 WHERE declaration_id = $4",
            )
            .bind(verdict)
            .bind(status.as_str_name())
            .bind(encode_record(declaration))
            .bind(&declaration.declaration_id),
        )
        .await?;
        Ok(())
    }

    /// The statement that records one carrier's cash for the FIU, under `record_id`.
    pub fn fiu_record_insert(
        record_id: Uuid,
        context: &FiuContext<'_>,
        record: &FiuRecord,
    ) -> Statement {
        Statement::new(
            "INSERT INTO cash_fiu_records (record_id, declaration_id, crossing_point, traveller_reference, \
             compliance, value_amount, declared_amount, currency_code, cash_forms, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(record_id.to_string())
        .bind(context.declaration_id)
        .bind(context.crossing_point)
        .bind(&record.traveller_reference)
        .bind(record.compliance.code())
        .bind(record.value.to_string())
        .bind(record.declared_value.to_string())
        .bind(context.currency_code)
        .bind(&record.forms)
        .bind(now_millis())
    }

    /// The FIU records made from one declaration, in traveller order.
    pub async fn fiu_records(&self, declaration_id: &str) -> anyhow::Result<Vec<StoredFiuRecord>> {
        let rows: Vec<(String, String, String, String, String, String, String)> = self
            .db
            .fetch_all(
                &Statement::new(
                    "SELECT record_id, traveller_reference, compliance, value_amount, declared_amount, \
                     currency_code, cash_forms FROM cash_fiu_records WHERE declaration_id = $1 \
                     ORDER BY traveller_reference, record_id",
                )
                .bind(declaration_id),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| StoredFiuRecord {
                record_id: row.0,
                traveller_reference: row.1,
                compliance: row.2,
                value_amount: row.3,
                declared_amount: row.4,
                currency_code: row.5,
                cash_forms: row.6,
            })
            .collect())
    }

    /// Stores a newly opened movement; `time_limit` is its ISO 8601 date.
    pub async fn insert_transit(
        &self,
        tx: &mut Tx,
        movement: &TransitMovement,
        time_limit: &str,
    ) -> anyhow::Result<()> {
        let now = now_millis();
        tx.execute(
            &Statement::new(
                "INSERT INTO transit_movements (mrn, status, office_of_departure, time_limit, created_at, updated_at, record) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&movement.mrn)
            .bind(status_name(movement))
            .bind(&movement.office_of_departure)
            .bind(time_limit)
            .bind(now)
            .bind(now)
            .bind(encode_record(movement)),
        )
        .await?;
        Ok(())
    }

    pub async fn get_transit(&self, mrn: &str) -> anyhow::Result<Option<TransitMovement>> {
        self.db
            .fetch_record(
                &Statement::new("SELECT record FROM transit_movements WHERE mrn = $1").bind(mrn),
            )
            .await
    }

    /// Saves a discharged movement if it is still open; `false` when another call discharged
    /// it first.
    pub async fn discharge_transit(
        &self,
        tx: &mut Tx,
        movement: &TransitMovement,
    ) -> anyhow::Result<bool> {
        let updated = tx
            .execute(
                &Statement::new(
                    "UPDATE transit_movements SET status = $1, updated_at = $2, record = $3 \
                     WHERE mrn = $4 AND status = $5",
                )
                .bind(status_name(movement))
                .bind(now_millis())
                .bind(encode_record(movement))
                .bind(&movement.mrn)
                .bind(TransitStatus::Open.as_str_name()),
            )
            .await?;
        Ok(updated == 1)
    }

    /// Open movements whose time limit is before `as_of` (ISO 8601), longest overdue first.
    pub async fn overdue_transits(
        &self,
        as_of: &str,
        limit: i64,
    ) -> anyhow::Result<Vec<TransitMovement>> {
        let rows: Vec<(String,)> = self
            .db
            .fetch_all(
                &Statement::new(
                    "SELECT record FROM transit_movements WHERE status = $1 AND time_limit < $2 \
                     ORDER BY time_limit, mrn LIMIT $3",
                )
                .bind(TransitStatus::Open.as_str_name())
                .bind(as_of)
                .bind(limit),
            )
            .await?;
        rows.iter().map(|(text,)| decode_record(text)).collect()
    }
}

#[cfg(test)]
mod tests {
    use bordermesh_kit::{
        storage::{Checkpoints, testing},
        writes::WriteBatch,
    };
    use rust_decimal::Decimal;

    use super::*;
    use crate::domain::cash::Compliance;

    async fn stores() -> Vec<(Store, testing::TestDatabase)> {
        let mut stores = Vec::new();
        for database in testing::databases().await.unwrap() {
            let db = Db::connect(&database.url, &crate::MIGRATIONS, Checkpoints::Small)
                .await
                .unwrap();
            stores.push((Store::new(db), database));
        }
        stores
    }

    async fn lodge(store: &Store, declaration: &Declaration) -> anyhow::Result<()> {
        let mut writes = WriteBatch::new();
        writes.add(Store::declaration_insert(
            "SI-OBREZJE",
            "IMPORT",
            declaration,
        ));
        writes.commit(store.db()).await
    }

    #[tokio::test]
    async fn a_declaration_is_read_back_and_its_mrn_is_unique_on_every_backend() {
        for (store, database) in stores().await {
            let declaration = Declaration {
                declaration_id: Uuid::new_v4().to_string(),
                mrn: "26SI0000000000000X".into(),
                verdict: 1,
                ..Default::default()
            };
            lodge(&store, &declaration).await.unwrap();
            let id = Uuid::parse_str(&declaration.declaration_id).unwrap();
            assert_eq!(
                store.get_declaration(id).await.unwrap(),
                Some(declaration.clone())
            );

            let twin = Declaration {
                declaration_id: Uuid::new_v4().to_string(),
                ..declaration
            };
            let duplicate = lodge(&store, &twin).await;
            assert!(duplicate.is_err(), "{:?}", database.backend);
        }
    }

    #[tokio::test]
    async fn a_declaration_is_locked_and_rewritten_on_every_backend() {
        for (store, database) in stores().await {
            let declaration = Declaration {
                declaration_id: Uuid::new_v4().to_string(),
                mrn: "26SI0000000000001X".into(),
                verdict: 3,
                status: DeclarationStatus::Lodged.into(),
                ..Default::default()
            };
            lodge(&store, &declaration).await.unwrap();
            let id = Uuid::parse_str(&declaration.declaration_id).unwrap();
            let mut tx = store.db().begin().await.unwrap();
            let held = store.lock_declaration(&mut tx, id).await.unwrap();
            assert_eq!(held.as_ref(), Some(&declaration), "{:?}", database.backend);
            assert!(
                store
                    .lock_declaration(&mut tx, Uuid::new_v4())
                    .await
                    .unwrap()
                    .is_none()
            );
            let invalidated = Declaration {
                status: DeclarationStatus::Invalidated.into(),
                invalidation_reason: "crossing refused".into(),
                ..declaration
            };
            store
                .update_declaration(&mut tx, &invalidated)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            assert_eq!(store.get_declaration(id).await.unwrap(), Some(invalidated));
            let (status,): (String,) = store
                .db()
                .fetch_one(
                    &Statement::new("SELECT status FROM declarations WHERE declaration_id = $1")
                        .bind(id.to_string()),
                )
                .await
                .unwrap();
            assert_eq!(status, "DECLARATION_STATUS_INVALIDATED");
        }
    }

    #[tokio::test]
    async fn fiu_records_are_kept_per_declaration_on_every_backend() {
        for (store, database) in stores().await {
            let declaration_id = Uuid::new_v4().to_string();
            let context = FiuContext {
                declaration_id: &declaration_id,
                crossing_point: "SI-OBREZJE",
                currency_code: "EUR",
            };
            let record = FiuRecord {
                traveller_reference: "driver".into(),
                compliance: Compliance::Undeclared,
                value: Decimal::new(1_250_000, 2),
                declared_value: Decimal::new(0, 2),
                forms: "currency, gold coins".into(),
            };
            let mut writes = WriteBatch::new();
            writes.add(Store::fiu_record_insert(Uuid::new_v4(), &context, &record));
            writes.commit(store.db()).await.unwrap();
            let stored = store.fiu_records(&declaration_id).await.unwrap();
            assert_eq!(stored.len(), 1, "{:?}", database.backend);
            assert_eq!(stored[0].compliance, "UNDECLARED");
            assert_eq!(stored[0].value_amount, "12500.00");
            assert!(store.fiu_records("other").await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn transits_are_discharged_once_and_overdue_ones_listed_on_every_backend() {
        for (store, database) in stores().await {
            let movement = |mrn: &str| TransitMovement {
                mrn: mrn.into(),
                status: TransitStatus::Open.into(),
                office_of_departure: "RS000100".into(),
                ..Default::default()
            };
            let mut tx = store.db().begin().await.unwrap();
            for (mrn, limit) in [
                ("A", "2026-07-20"),
                ("B", "2026-07-18"),
                ("C", "2026-07-25"),
            ] {
                store
                    .insert_transit(&mut tx, &movement(mrn), limit)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
            let overdue: Vec<String> = store
                .overdue_transits("2026-07-21", 10)
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.mrn)
                .collect();
            assert_eq!(overdue, ["B", "A"], "{:?}", database.backend);

            let discharged = TransitMovement {
                status: TransitStatus::Discharged.into(),
                ..movement("B")
            };
            let mut tx = store.db().begin().await.unwrap();
            assert!(store.discharge_transit(&mut tx, &discharged).await.unwrap());
            tx.commit().await.unwrap();
            let mut tx = store.db().begin().await.unwrap();
            assert!(!store.discharge_transit(&mut tx, &discharged).await.unwrap());
            tx.rollback().await.unwrap();
            assert_eq!(
                store.get_transit("B").await.unwrap().unwrap().status(),
                TransitStatus::Discharged
            );
            let overdue = store.overdue_transits("2026-07-21", 10).await.unwrap();
            assert_eq!(overdue.len(), 1);
            assert_eq!(
                store.overdue_transits("2026-07-30", 1).await.unwrap().len(),
                1
            );
        }
    }
}
