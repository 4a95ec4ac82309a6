//! Persistence of assessments, health entry documents, inspection results, phytosanitary
//! certificates and luggage seizures; the only place this service writes SQL.

use bordermesh_kit::storage::{decode_record, encode_record, fetch_record, now_millis};
use bordermesh_proto::{
    common::v1::Verdict,
    sanitary::v1::{Assessment, Ched, ChedStatus, LuggageCheck, PhytosanitaryCertificate},
};
use sqlx::{Any, AnyPool, Executor, Transaction};
use uuid::Uuid;

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

/// A stored certificate and the consignment that used it, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCertificate {
    pub certificate: PhytosanitaryCertificate,
    pub used_by_assessment: Option<String>,
    pub used_by_subject: Option<String>,
}

/// How many recent inspection results an origin had, and how many were non-compliant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ComplianceCount {
    pub total: u64,
    pub non_compliant: u64,
}

fn status_name(ched: &Ched) -> &'static str {
    ChedStatus::try_from(ched.status)
        .unwrap_or_default()
        .as_str_name()
}

fn optional(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
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

    /// Rewrites an assessment after an inspection result changed its verdict.
    pub async fn update_assessment(
        &self,
        tx: &mut Transaction<'_, Any>,
        assessment: &Assessment,
    ) -> sqlx::Result<()> {
        let verdict = Verdict::try_from(assessment.verdict)
            .unwrap_or_default()
            .as_str_name();
        sqlx::query("UPDATE assessments SET verdict = $1, record = $2 WHERE assessment_id = $3")
            .bind(verdict)
            .bind(encode_record(assessment))
            .bind(&assessment.assessment_id)
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

    /// Reads an assessment inside a transaction that is about to rewrite it. A no-op write first
    /// locks its row (the write lock on SQLite), so that two calls that change one assessment
    /// (two documents of it decided at once) run one after the other and neither loses the
    /// other's change.
    pub async fn get_assessment_for_update(
        &self,
        tx: &mut Transaction<'_, Any>,
        id: &str,
    ) -> anyhow::Result<Option<Assessment>> {
        sqlx::query("UPDATE assessments SET verdict = verdict WHERE assessment_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        let row: Option<(String,)> =
            sqlx::query_as("SELECT record FROM assessments WHERE assessment_id = $1")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        row.map(|(text,)| decode_record(&text)).transpose()
    }

    /// Stores a new document; false when its reference is taken.
    pub async fn insert_ched(
        &self,
        tx: &mut Transaction<'_, Any>,
        ched: &Ched,
    ) -> sqlx::Result<bool> {
        let part_i = ched.part_i.clone().unwrap_or_default();
        let now = now_millis();
        let inserted = sqlx::query(
            "INSERT INTO cheds (reference, document_type, status, origin_country, commodity_code, \
             assessment_id, subject, created_at, updated_at, record) \
             VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6, $7, $8) ON CONFLICT (reference) DO NOTHING",
        )
        .bind(&ched.reference)
        .bind(ched.document_type().as_str_name())
        .bind(status_name(ched))
        .bind(&part_i.origin_country)
        .bind(&part_i.commodity_code)
        .bind(now)
        .bind(now)
        .bind(encode_record(ched))
        .execute(&mut **tx)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    pub async fn get_ched<'e>(
        &self,
        executor: impl Executor<'e, Database = Any>,
        reference: &str,
    ) -> anyhow::Result<Option<Ched>> {
        fetch_record(
            executor,
            "SELECT record FROM cheds WHERE reference = $1",
            reference,
        )
        .await
    }

    /// Locks a document's row in `tx` with a no-op write (the write lock on SQLite, taken before
    /// any read so that the transaction never has to upgrade a read lock).
    pub async fn lock_ched(
        &self,
        tx: &mut Transaction<'_, Any>,
        reference: &str,
    ) -> sqlx::Result<()> {
        sqlx::query("UPDATE cheds SET status = status WHERE reference = $1")
            .bind(reference)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Reads a document inside the transaction that will change it.
    pub async fn get_ched_for_update(
        &self,
        tx: &mut Transaction<'_, Any>,
        reference: &str,
    ) -> anyhow::Result<Option<Ched>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT record FROM cheds WHERE reference = $1")
                .bind(reference)
                .fetch_optional(&mut **tx)
                .await?;
        row.map(|(text,)| decode_record(&text)).transpose()
    }

    /// Writes `ched` only if the stored document still has status `expected`; false when a
    /// concurrent call moved it first, so that a document is never used twice.
    pub async fn update_ched(
        &self,
        tx: &mut Transaction<'_, Any>,
        ched: &Ched,
        expected: ChedStatus,
    ) -> sqlx::Result<bool> {
        let updated = sqlx::query(
            "UPDATE cheds SET status = $1, assessment_id = $2, subject = $3, updated_at = $4, \
             record = $5 WHERE reference = $6 AND status = $7",
        )
        .bind(status_name(ched))
        .bind(optional(&ched.assessment_id))
        .bind(optional(&ched.subject))
        .bind(now_millis())
        .bind(encode_record(ched))
        .bind(&ched.reference)
        .bind(expected.as_str_name())
        .execute(&mut **tx)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    pub async fn insert_inspection_result(
        &self,
        tx: &mut Transaction<'_, Any>,
        reference: &str,
        origin_country: &str,
        commodity_group: &str,
        compliant: bool,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO inspection_results (reference, origin_country, commodity_group, compliant, decided_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(reference)
        .bind(origin_country)
        .bind(commodity_group)
        .bind(i64::from(compliant))
        .bind(now_millis())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Inspection results for goods of `commodity_group` from `origin_country` decided at or
    /// after `since_millis`.
    pub async fn compliance_since<'e>(
        &self,
        executor: impl Executor<'e, Database = Any>,
        origin_country: &str,
        commodity_group: &str,
        since_millis: i64,
    ) -> sqlx::Result<ComplianceCount> {
        // SUM over an INTEGER expression is BIGINT on PostgreSQL (over BIGINT it would be NUMERIC).
        let (total, non_compliant): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), SUM(CASE WHEN compliant = 0 THEN 1 ELSE 0 END) FROM inspection_results \
             WHERE origin_country = $1 AND commodity_group = $2 AND decided_at >= $3",
        )
        .bind(origin_country)
        .bind(commodity_group)
        .bind(since_millis)
        .fetch_one(executor)
        .await?;
        Ok(ComplianceCount {
            total: u64::try_from(total).unwrap_or_default(),
            non_compliant: u64::try_from(non_compliant.unwrap_or_default()).unwrap_or_default(),
        })
    }

    /// Stores a certificate; false when one with the same id was received before.
    pub async fn insert_certificate(
        &self,
        tx: &mut Transaction<'_, Any>,
        certificate: &PhytosanitaryCertificate,
    ) -> sqlx::Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO phytosanitary_certificates \
             (certificate_id, issuing_country, used_by_assessment, used_by_subject, created_at, record) \
             VALUES ($1, $2, NULL, NULL, $3, $4) ON CONFLICT (certificate_id) DO NOTHING",
        )
        .bind(&certificate.certificate_id)
        .bind(&certificate.issuing_country)
        .bind(now_millis())
        .bind(encode_record(certificate))
        .execute(&mut **tx)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    pub async fn get_certificate<'e>(
        &self,
        executor: impl Executor<'e, Database = Any>,
        id: &str,
    ) -> anyhow::Result<Option<StoredCertificate>> {
        let row: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT record, used_by_assessment, used_by_subject FROM phytosanitary_certificates \
             WHERE certificate_id = $1",
        )
        .bind(id)
        .fetch_optional(executor)
        .await?;
        row.map(|(record, used_by_assessment, used_by_subject)| {
            Ok(StoredCertificate {
                certificate: decode_record(&record)?,
                used_by_assessment,
                used_by_subject,
            })
        })
        .transpose()
    }

    /// Marks a certificate used by one consignment; false when another got there first.
    pub async fn mark_certificate_used(
        &self,
        tx: &mut Transaction<'_, Any>,
        id: &str,
        assessment_id: &str,
        subject: &str,
    ) -> sqlx::Result<bool> {
        let updated = sqlx::query(
            "UPDATE phytosanitary_certificates SET used_by_assessment = $1, used_by_subject = $2 \
             WHERE certificate_id = $3 AND used_by_assessment IS NULL",
        )
        .bind(assessment_id)
        .bind(subject)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Gives a certificate back when the consignment that used it did not cross; false when
    /// another consignment holds it.
    pub async fn release_certificate(
        &self,
        tx: &mut Transaction<'_, Any>,
        id: &str,
        assessment_id: &str,
        subject: &str,
    ) -> sqlx::Result<bool> {
        let updated = sqlx::query(
            "UPDATE phytosanitary_certificates SET used_by_assessment = NULL, used_by_subject = NULL \
             WHERE certificate_id = $1 AND used_by_assessment = $2 AND used_by_subject = $3",
        )
        .bind(id)
        .bind(assessment_id)
        .bind(subject)
        .execute(&mut **tx)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Records a luggage check with a row per seizure.
    pub async fn insert_luggage_check(
        &self,
        tx: &mut Transaction<'_, Any>,
        crossing_point: &str,
        check: &LuggageCheck,
    ) -> sqlx::Result<()> {
        let now = now_millis();
        sqlx::query(
            "INSERT INTO luggage_checks (check_id, crossing_point, created_at, record) VALUES ($1, $2, $3, $4)",
        )
        .bind(&check.check_id)
        .bind(crossing_point)
        .bind(now)
        .bind(encode_record(check))
        .execute(&mut **tx)
        .await?;
        for seizure in &check.seizures {
            sqlx::query(
                "INSERT INTO seizures (seizure_id, check_id, crossing_point, category, created_at, record) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&seizure.seizure_id)
            .bind(&check.check_id)
            .bind(crossing_point)
            .bind(&seizure.category)
            .bind(now)
            .bind(encode_record(seizure))
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    pub async fn get_luggage_check(&self, check_id: &str) -> anyhow::Result<Option<LuggageCheck>> {
        fetch_record(
            &self.pool,
            "SELECT record FROM luggage_checks WHERE check_id = $1",
            check_id,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use bordermesh_kit::storage::{connect, testing};
    use bordermesh_proto::sanitary::v1::{ChedPartI, Seizure};

    use super::*;

    async fn stores() -> Vec<(Store, testing::TestDatabase)> {
        let mut stores = Vec::new();
        for database in testing::databases().await.unwrap() {
            let store = Store::new(connect(&database.url, &crate::MIGRATIONS).await.unwrap());
            stores.push((store, database));
        }
        stores
    }

    #[tokio::test]
    async fn an_assessment_is_read_back_as_written_on_every_backend() {
        for (store, database) in stores().await {
            let mut assessment = Assessment {
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
                store.get_assessment(id).await.unwrap().as_ref(),
                Some(&assessment),
                "{:?}",
                database.backend
            );
            assessment.verdict = Verdict::Clear.into();
            let mut tx = store.pool().begin().await.unwrap();
            store.update_assessment(&mut tx, &assessment).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(store.get_assessment(id).await.unwrap(), Some(assessment));
        }
    }

    #[tokio::test]
    async fn a_ched_moves_only_from_the_status_it_was_read_in_on_every_backend() {
        for (store, database) in stores().await {
            let mut ched = Ched {
                reference: "CHEDP.HRV.2026.00000042".into(),
                status: ChedStatus::New.into(),
                part_i: Some(ChedPartI {
                    commodity_code: "020230".into(),
                    origin_country: "ARG".into(),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let mut tx = store.pool().begin().await.unwrap();
            assert!(store.insert_ched(&mut tx, &ched).await.unwrap());
            assert!(
                !store.insert_ched(&mut tx, &ched).await.unwrap(),
                "reference taken"
            );
            tx.commit().await.unwrap();

            ched.status = ChedStatus::InProgress.into();
            ched.assessment_id = Uuid::new_v4().to_string();
            ched.subject = "consignments[0]".into();
            let mut tx = store.pool().begin().await.unwrap();
            assert!(
                store
                    .update_ched(&mut tx, &ched, ChedStatus::New)
                    .await
                    .unwrap()
            );
            // A second consignment that read the document as new loses.
            assert!(
                !store
                    .update_ched(&mut tx, &ched, ChedStatus::New)
                    .await
                    .unwrap()
            );
            tx.commit().await.unwrap();
            assert_eq!(
                store.get_ched(store.pool(), &ched.reference).await.unwrap(),
                Some(ched),
                "{:?}",
                database.backend
            );
        }
    }

    #[tokio::test]
    async fn non_compliance_is_counted_by_origin_group_and_time_on_every_backend() {
        for (store, database) in stores().await {
            let mut tx = store.pool().begin().await.unwrap();
            for (index, compliant) in [true, false, false, true].into_iter().enumerate() {
                store
                    .insert_inspection_result(
                        &mut tx,
                        &format!("R{index}"),
                        "ARG",
                        "meat",
                        compliant,
                    )
                    .await
                    .unwrap();
            }
            store
                .insert_inspection_result(&mut tx, "R9", "BRA", "meat", false)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            assert_eq!(
                store
                    .compliance_since(store.pool(), "ARG", "meat", 0)
                    .await
                    .unwrap(),
                ComplianceCount {
                    total: 4,
                    non_compliant: 2
                },
                "{:?}",
                database.backend
            );
            assert_eq!(
                store
                    .compliance_since(store.pool(), "ARG", "fish", 0)
                    .await
                    .unwrap(),
                ComplianceCount::default()
            );
            let future = now_millis() + 60_000;
            assert_eq!(
                store
                    .compliance_since(store.pool(), "ARG", "meat", future)
                    .await
                    .unwrap()
                    .total,
                0
            );
        }
    }

    #[tokio::test]
    async fn a_certificate_is_used_once_and_seizures_are_kept_on_every_backend() {
        for (store, database) in stores().await {
            let certificate = PhytosanitaryCertificate {
                certificate_id: "ZA-2026-1".into(),
                issuing_country: "ZAF".into(),
                ..Default::default()
            };
            let mut tx = store.pool().begin().await.unwrap();
            assert!(
                store
                    .insert_certificate(&mut tx, &certificate)
                    .await
                    .unwrap()
            );
            assert!(
                !store
                    .insert_certificate(&mut tx, &certificate)
                    .await
                    .unwrap()
            );
            assert!(
                store
                    .mark_certificate_used(&mut tx, "ZA-2026-1", "a1", "consignments[0]")
                    .await
                    .unwrap()
            );
            assert!(
                !store
                    .mark_certificate_used(&mut tx, "ZA-2026-1", "a2", "consignments[0]")
                    .await
                    .unwrap()
            );
            let check = LuggageCheck {
                check_id: Uuid::new_v4().to_string(),
                seizures: vec![Seizure {
                    seizure_id: Uuid::new_v4().to_string(),
                    category: "MEAT".into(),
                    ..Default::default()
                }],
                ..Default::default()
            };
            store
                .insert_luggage_check(&mut tx, "HR-BREGANA", &check)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let stored = store
                .get_certificate(store.pool(), "ZA-2026-1")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                stored.used_by_assessment.as_deref(),
                Some("a1"),
                "{:?}",
                database.backend
            );
            // Only the consignment that holds it gives it back; then another may use it.
            let mut tx = store.pool().begin().await.unwrap();
            assert!(
                !store
                    .release_certificate(&mut tx, "ZA-2026-1", "a2", "consignments[0]")
                    .await
                    .unwrap()
            );
            assert!(
                store
                    .release_certificate(&mut tx, "ZA-2026-1", "a1", "consignments[0]")
                    .await
                    .unwrap()
            );
            assert!(
                store
                    .mark_certificate_used(&mut tx, "ZA-2026-1", "a2", "consignments[0]")
                    .await
                    .unwrap()
            );
            tx.commit().await.unwrap();
            assert_eq!(stored.certificate, certificate);
            assert_eq!(
                store
                    .get_luggage_check(&check.check_id)
                    .await
                    .unwrap()
                    .as_ref(),
                Some(&check)
            );
            let seizures: (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM seizures WHERE check_id = $1")
                    .bind(&check.check_id)
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
            assert_eq!(seizures.0, 1);
        }
    }
}
