//! Persistence of assessments, health entry documents, inspection results, phytosanitary
//! certificates and luggage seizures; the only place this service writes SQL.

use bordermesh_kit::{
    db::{Db, Tx},
    storage::{decode_record, encode_record, now_millis},
    writes::Statement,
};
use bordermesh_proto::{
    common::v1::Verdict,
    sanitary::v1::{Assessment, Ched, ChedStatus, LuggageCheck, PhytosanitaryCertificate},
};
use uuid::Uuid;

#[derive(Clone)]
pub struct Store {
    db: Db,
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

fn ched_record(reference: &str) -> Statement {
    Statement::new("SELECT record FROM cheds WHERE reference = $1").bind(reference)
}

fn certificate_row(id: &str) -> Statement {
    Statement::new(
        "SELECT record, used_by_assessment, used_by_subject FROM phytosanitary_certificates \
         WHERE certificate_id = $1",
    )
    .bind(id)
}

fn stored_certificate(
    row: Option<(String, Option<String>, Option<String>)>,
) -> anyhow::Result<Option<StoredCertificate>> {
    row.map(|(record, used_by_assessment, used_by_subject)| {
        Ok(StoredCertificate {
            certificate: decode_record(&record)?,
            used_by_assessment,
            used_by_subject,
        })
    })
    .transpose()
}

impl Store {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn insert_assessment(
        &self,
        tx: &mut Tx,
        crossing_point: &str,
        assessment: &Assessment,
    ) -> anyhow::Result<()> {
        let verdict = Verdict::try_from(assessment.verdict)
            .unwrap_or_default()
            .as_str_name();
        tx.execute(
            &Statement::new(
                "INSERT INTO assessments (assessment_id, crossing_point, verdict, created_at, record) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&assessment.assessment_id)
            .bind(crossing_point)
            .bind(verdict)
            .bind(now_millis())
            .bind(encode_record(assessment)),
        )
        .await?;
        Ok(())
    }

    /// Rewrites an assessment after an inspection result changed its verdict.
    pub async fn update_assessment(
        &self,
        tx: &mut Tx,
        assessment: &Assessment,
    ) -> anyhow::Result<()> {
        let verdict = Verdict::try_from(assessment.verdict)
            .unwrap_or_default()
            .as_str_name();
        tx.execute(
            &Statement::new(
                "UPDATE assessments SET verdict = $1, record = $2 WHERE assessment_id = $3",
            )
            .bind(verdict)
            .bind(encode_record(assessment))
            .bind(&assessment.assessment_id),
        )
        .await?;
        Ok(())
    }

    pub async fn get_assessment(&self, id: Uuid) -> anyhow::Result<Option<Assessment>> {
        self.db
            .fetch_record(
                &Statement::new("SELECT record FROM assessments WHERE assessment_id = $1")
                    .bind(id.to_string()),
            )
            .await
    }

    /// Reads an assessment inside a transaction that is about to rewrite it. A no-op write first
    /// locks its row (on PostgreSQL; a SQLite transaction holds the write lock from its start),
    /// so that two calls that change one assessment (two documents of it decided at once) run
    /// one after the other and neither loses the other's change.
    pub async fn get_assessment_for_update(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> anyhow::Result<Option<Assessment>> {
        tx.execute(
            &Statement::new("UPDATE assessments SET verdict = verdict WHERE assessment_id = $1")
                .bind(id),
        )
        .await?;
        tx.fetch_record(
            &Statement::new("SELECT record FROM assessments WHERE assessment_id = $1").bind(id),
        )
        .await
    }

    /// Stores a new document; false when its reference is taken.
    pub async fn insert_ched(&self, tx: &mut Tx, ched: &Ched) -> anyhow::Result<bool> {
        let part_i = ched.part_i.clone().unwrap_or_default();
        let now = now_millis();
        let inserted = tx
            .execute(
                &Statement::new(
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
                .bind(encode_record(ched)),
            )
            .await?;
        Ok(inserted == 1)
    }

    pub async fn get_ched(&self, reference: &str) -> anyhow::Result<Option<Ched>> {
        self.db.fetch_record(&ched_record(reference)).await
    }

    /// Locks a document's row in `tx` with a no-op write (on PostgreSQL; a SQLite transaction
    /// holds the write lock from its start).
    pub async fn lock_ched(&self, tx: &mut Tx, reference: &str) -> anyhow::Result<()> {
        tx.execute(
            &Statement::new("UPDATE cheds SET status = status WHERE reference = $1")
                .bind(reference),
        )
        .await?;
        Ok(())
    }

    /// Reads a document inside the transaction that may change it.
    pub async fn get_ched_for_update(
        &self,
        tx: &mut Tx,
        reference: &str,
    ) -> anyhow::Result<Option<Ched>> {
        tx.fetch_record(&ched_record(reference)).await
    }

    /// Writes `ched` only if the stored document still has status `expected`; false when a
    /// concurrent call moved it first, so that a document is never used twice.
    pub async fn update_ched(
        &self,
        tx: &mut Tx,
        ched: &Ched,
        expected: ChedStatus,
    ) -> anyhow::Result<bool> {
        let updated = tx
            .execute(
                &Statement::new(
                    "UPDATE cheds SET status = $1, assessment_id = $2, subject = $3, updated_at = $4, \
                     record = $5 WHERE reference = $6 AND status = $7",
                )
                .bind(status_name(ched))
                .bind(optional(&ched.assessment_id))
                .bind(optional(&ched.subject))
                .bind(now_millis())
                .bind(encode_record(ched))
                .bind(&ched.reference)
                .bind(expected.as_str_name()),
            )
            .await?;
        Ok(updated == 1)
    }

    pub async fn insert_inspection_result(
        &self,
        tx: &mut Tx,
        reference: &str,
        origin_country: &str,
        commodity_group: &str,
        compliant: bool,
    ) -> anyhow::Result<()> {
        tx.execute(
            &Statement::new(
                "INSERT INTO inspection_results (reference, origin_country, commodity_group, compliant, decided_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(reference)
            .bind(origin_country)
            .bind(commodity_group)
            .bind(i64::from(compliant))
            .bind(now_millis()),
        )
        .await?;
        Ok(())
    }

    /// Inspection results for goods of `commodity_group` from `origin_country` decided at or
    /// after `since_millis`, read inside `tx`.
    pub async fn compliance_since(
        &self,
        tx: &mut Tx,
        origin_country: &str,
        commodity_group: &str,
        since_millis: i64,
    ) -> anyhow::Result<ComplianceCount> {
        // SUM over an INTEGER expression is BIGINT on PostgreSQL (over BIGINT it would be NUMERIC).
        let (total, non_compliant): (i64, Option<i64>) = tx
            .fetch_one(
                &Statement::new(
                    "SELECT COUNT(*), SUM(CASE WHEN compliant = 0 THEN 1 ELSE 0 END) FROM inspection_results \
                     WHERE origin_country = $1 AND commodity_group = $2 AND decided_at >= $3",
                )
                .bind(origin_country)
                .bind(commodity_group)
                .bind(since_millis),
            )
            .await?;
        Ok(ComplianceCount {
            total: u64::try_from(total).unwrap_or_default(),
            non_compliant: u64::try_from(non_compliant.unwrap_or_default()).unwrap_or_default(),
        })
    }

    /// Stores a certificate; false when one with the same id was received before.
    pub async fn insert_certificate(
        &self,
        tx: &mut Tx,
        certificate: &PhytosanitaryCertificate,
    ) -> anyhow::Result<bool> {
        let inserted = tx
            .execute(
                &Statement::new(
                    "INSERT INTO phytosanitary_certificates \
                     (certificate_id, issuing_country, used_by_assessment, used_by_subject, created_at, record) \
                     VALUES ($1, $2, NULL, NULL, $3, $4) ON CONFLICT (certificate_id) DO NOTHING",
                )
                .bind(&certificate.certificate_id)
                .bind(&certificate.issuing_country)
                .bind(now_millis())
                .bind(encode_record(certificate)),
            )
            .await?;
        Ok(inserted == 1)
    }

    pub async fn get_certificate(&self, id: &str) -> anyhow::Result<Option<StoredCertificate>> {
        stored_certificate(self.db.fetch_optional(&certificate_row(id)).await?)
    }

    /// [`Self::get_certificate`], read inside `tx`.
    pub async fn get_certificate_in(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> anyhow::Result<Option<StoredCertificate>> {
        stored_certificate(tx.fetch_optional(&certificate_row(id)).await?)
    }

    /// Marks a certificate used by one consignment; false when another got there first.
    pub async fn mark_certificate_used(
        &self,
        tx: &mut Tx,
        id: &str,
        assessment_id: &str,
        subject: &str,
    ) -> anyhow::Result<bool> {
        let updated = tx
            .execute(
                &Statement::new(
                    "UPDATE phytosanitary_certificates SET used_by_assessment = $1, used_by_subject = $2 \
                     WHERE certificate_id = $3 AND used_by_assessment IS NULL",
                )
                .bind(assessment_id)
                .bind(subject)
                .bind(id),
            )
            .await?;
        Ok(updated == 1)
    }

    /// Gives a certificate back when the consignment that used it did not cross; false when
    /// another consignment holds it.
    pub async fn release_certificate(
        &self,
        tx: &mut Tx,
        id: &str,
        assessment_id: &str,
        subject: &str,
    ) -> anyhow::Result<bool> {
        let updated = tx
            .execute(
                &Statement::new(
                    "UPDATE phytosanitary_certificates SET used_by_assessment = NULL, used_by_subject = NULL \
                     WHERE certificate_id = $1 AND used_by_assessment = $2 AND used_by_subject = $3",
                )
                .bind(id)
                .bind(assessment_id)
                .bind(subject),
            )
            .await?;
        Ok(updated == 1)
    }

    /// Records a luggage check with a row per seizure.
    pub async fn insert_luggage_check(
        &self,
        tx: &mut Tx,
        crossing_point: &str,
        check: &LuggageCheck,
    ) -> anyhow::Result<()> {
        let now = now_millis();
        tx.execute(
            &Statement::new(
                "INSERT INTO luggage_checks (check_id, crossing_point, created_at, record) VALUES ($1, $2, $3, $4)",
            )
            .bind(&check.check_id)
            .bind(crossing_point)
            .bind(now)
            .bind(encode_record(check)),
        )
        .await?;
        for seizure in &check.seizures {
            tx.execute(
                &Statement::new(
                    "INSERT INTO seizures (seizure_id, check_id, crossing_point, category, created_at, record) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&seizure.seizure_id)
                .bind(&check.check_id)
                .bind(crossing_point)
                .bind(&seizure.category)
                .bind(now)
                .bind(encode_record(seizure)),
            )
            .await?;
        }
        Ok(())
    }

    pub async fn get_luggage_check(&self, check_id: &str) -> anyhow::Result<Option<LuggageCheck>> {
        self.db
            .fetch_record(
                &Statement::new("SELECT record FROM luggage_checks WHERE check_id = $1")
                    .bind(check_id),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use bordermesh_kit::storage::{Checkpoints, testing};
    use bordermesh_proto::sanitary::v1::{ChedPartI, Seizure};

    use super::*;

    async fn stores() -> Vec<(Store, testing::TestDatabase)> {
        let mut stores = Vec::new();
        for database in testing::databases().await.unwrap() {
            let db = Db::connect(&database.url, &crate::MIGRATIONS, Checkpoints::Periodic)
                .await
                .unwrap();
            let store = Store::new(db);
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
            let mut tx = store.db().begin().await.unwrap();
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
            let mut tx = store.db().begin().await.unwrap();
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
            let mut tx = store.db().begin().await.unwrap();
            assert!(store.insert_ched(&mut tx, &ched).await.unwrap());
            assert!(
                !store.insert_ched(&mut tx, &ched).await.unwrap(),
                "reference taken"
            );
            tx.commit().await.unwrap();

            ched.status = ChedStatus::InProgress.into();
            ched.assessment_id = Uuid::new_v4().to_string();
            ched.subject = "consignments[0]".into();
            let mut tx = store.db().begin().await.unwrap();
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
                store.get_ched(&ched.reference).await.unwrap(),
                Some(ched),
                "{:?}",
                database.backend
            );
        }
    }

    #[tokio::test]
    async fn non_compliance_is_counted_by_origin_group_and_time_on_every_backend() {
        for (store, database) in stores().await {
            let mut tx = store.db().begin().await.unwrap();
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
            // The service counts inside the transaction of an assessment's writes.
            let mut tx = store.db().begin().await.unwrap();
            assert_eq!(
                store
                    .compliance_since(&mut tx, "ARG", "meat", 0)
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
                    .compliance_since(&mut tx, "ARG", "fish", 0)
                    .await
                    .unwrap(),
                ComplianceCount::default()
            );
            let future = now_millis() + 60_000;
            assert_eq!(
                store
                    .compliance_since(&mut tx, "ARG", "meat", future)
                    .await
                    .unwrap()
                    .total,
                0
            );
            tx.rollback().await.unwrap();
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
            let mut tx = store.db().begin().await.unwrap();
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
            let stored = store.get_certificate("ZA-2026-1").await.unwrap().unwrap();
            assert_eq!(
                stored.used_by_assessment.as_deref(),
                Some("a1"),
                "{:?}",
                database.backend
            );
            // Only the consignment that holds it gives it back; then another may use it.
            let mut tx = store.db().begin().await.unwrap();
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
            let seizures: (i64,) = store
                .db()
                .fetch_one(
                    &Statement::new("SELECT COUNT(*) FROM seizures WHERE check_id = $1")
                        .bind(&check.check_id),
                )
                .await
                .unwrap();
            assert_eq!(seizures.0, 1);
        }
    }
}
