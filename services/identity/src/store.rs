//! Persistence of traveller checks; the only place this service writes SQL.

use bordermesh_kit::{
    db::{Db, Tx},
    storage::{Backend, decode_record, encode_record, new_record_id, now_millis},
    writes::{GroupWriter, Statement},
};
use bordermesh_proto::{
    common::v1::Date,
    identity::v1::{
        DocumentReport, DocumentReportSource, DocumentReportStatus, IssuedVisa, TravellerCheck,
        WatchlistEntry,
    },
};
use chrono::NaiveDate;
use uuid::Uuid;

use crate::domain::{ees::CrossingKind, sltd::DocumentKey};

/// Rows per multi-row INSERT in bulk imports: 1,000 rows of at most 9 parameters stay well
/// under SQLite's and PostgreSQL's limits on bound parameters.
pub const IMPORT_BATCH: usize = 1_000;

/// An entry, exit or refusal as EES records it.
pub struct CrossingRecord<'a> {
    pub traveller_key: &'a str,
    pub kind: CrossingKind,
    pub crossed_on: NaiveDate,
    pub crossing_point: &'a str,
    pub nationality: &'a str,
    pub refusal_codes: &'a str,
    pub keep_until: NaiveDate,
    /// The check that wrote the record, so that a later decision finds it.
    pub check_id: Option<&'a str>,
    /// The visa whose entry an entry record counted, so that a refusal gives it back.
    pub visa_number: Option<&'a str>,
}

/// The EES record a check wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckCrossing {
    pub record_id: String,
    pub kind: CrossingKind,
    pub visa_number: Option<String>,
}

/// A check as a later decision reads it: the record and what the first line knew.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCheck {
    pub check: TravellerCheck,
    pub crossing_point: String,
    pub direction: String,
    pub nationality: String,
    /// The first line's verdict as its proto name (`VERDICT_REFER`).
    pub first_line_verdict: String,
    pub crossing_date: NaiveDate,
    pub visa_number: Option<String>,
}

fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn parse_date_text(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn proto_date_text(date: Option<&Date>) -> Option<String> {
    let date = date?;
    let month = u32::try_from(date.month).ok()?;
    let day = u32::try_from(date.day).ok()?;
    NaiveDate::from_ymd_opt(date.year, month, day).map(date_text)
}

fn text_proto_date(text: Option<&str>) -> Option<Date> {
    let date = parse_date_text(text?)?;
    Some(bordermesh_kit::validate::date_to_proto(date))
}

/// `$1, $2, …` placeholders for `rows` rows of `columns` values each; on SQLite anonymous `?`
/// in the same order: SQLite finds a numbered parameter's name by a linear search, so binding
/// a statement of 9,000 numbered parameters took quadratic time (82% of a bulk import's time).
fn placeholders(rows: usize, columns: usize, backend: Backend) -> String {
    (0..rows)
        .map(|row| {
            let values: Vec<String> = (1..=columns)
                .map(|column| match backend {
                    Backend::Sqlite => "?".to_owned(),
                    Backend::Postgres => format!("${}", row * columns + column),
                })
                .collect();
            format!("({})", values.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

const UPSERT_REPORT_TAIL: &str = " ON CONFLICT (issuing_state, document_type, document_number) DO UPDATE SET \
    document_code = excluded.document_code, status = excluded.status, source = excluded.source, \
    reported_on = excluded.reported_on";

#[derive(Clone)]
pub struct Store {
    db: Db,
    writer: GroupWriter,
}

/// What the index columns say about a check, beside the encoded record.
pub struct CheckRow<'a> {
    pub crossing_point: &'a str,
    pub direction: &'a str,
    pub verdict: &'a str,
    pub nationality: &'a str,
    pub crossing_date: NaiveDate,
    /// The visa sticker presented, if any.
    pub visa_number: Option<&'a str>,
}

impl Store {
    pub fn new(db: Db) -> Self {
        let writer = GroupWriter::new(db.clone());
        Self { db, writer }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Commits the checks of concurrent calls together.
    pub fn writer(&self) -> &GroupWriter {
        &self.writer
    }

    /// The statement that records a new check.
    pub fn check_insert(row: &CheckRow<'_>, check: &TravellerCheck) -> Statement {
        Statement::new(
            "INSERT INTO traveller_checks (check_id, crossing_point, direction, verdict, nationality, created_at, record, \
             first_line_verdict, crossing_date, visa_number) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&check.check_id)
        .bind(row.crossing_point)
        .bind(row.direction)
        .bind(row.verdict)
        .bind(row.nationality)
        .bind(now_millis())
        .bind(encode_record(check))
        .bind(row.verdict)
        .bind(date_text(row.crossing_date))
        .bind(row.visa_number)
    }

    /// Locks a check for a decision in `tx` (a no-op write: a row lock on PostgreSQL, the write
    /// lock on SQLite), so that concurrent decisions on one check run one after the other.
    /// False when there is no such check.
    pub async fn lock_check(&self, tx: &mut Tx, check_id: &str) -> anyhow::Result<bool> {
        let locked = tx
            .execute(
                &Statement::new(
                    "UPDATE traveller_checks SET verdict = verdict WHERE check_id = $1",
                )
                .bind(check_id),
            )
            .await?;
        Ok(locked == 1)
    }

    /// Reads a check locked by `lock_check`, with what the first line knew.
    pub async fn stored_check(
        &self,
        tx: &mut Tx,
        check_id: &str,
    ) -> anyhow::Result<Option<StoredCheck>> {
        type CheckColumns = (
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
        );
        let row: Option<CheckColumns> = tx
            .fetch_optional(
                &Statement::new(
                    "SELECT record, crossing_point, direction, nationality, verdict, first_line_verdict, \
                     crossing_date, visa_number, created_at FROM traveller_checks WHERE check_id = $1",
                )
                .bind(check_id),
            )
            .await?;
        let Some((
            record,
            crossing_point,
            direction,
            nationality,
            verdict,
            first_line,
            crossing_date,
            visa_number,
            created_at,
        )) = row
        else {
            return Ok(None);
        };
        // Checks recorded before the day was kept crossed on the day they were recorded.
        let crossing_date = crossing_date
            .as_deref()
            .and_then(parse_date_text)
            .or_else(|| chrono::DateTime::from_timestamp_millis(created_at).map(|t| t.date_naive()))
            .ok_or_else(|| anyhow::anyhow!("check {check_id} has no readable crossing date"))?;
        Ok(Some(StoredCheck {
            check: decode_record(&record)?,
            crossing_point,
            direction,
            nationality,
            first_line_verdict: first_line.unwrap_or(verdict),
            crossing_date,
            visa_number,
        }))
    }

    /// Saves a decided check; `verdict` is its proto name.
    pub async fn update_check(
        &self,
        tx: &mut Tx,
        verdict: &str,
        check: &TravellerCheck,
    ) -> anyhow::Result<()> {
        tx.execute(
            &Statement::new(
                "UPDATE traveller_checks SET verdict = $1, record = $2 WHERE check_id = $3",
            )
            .bind(verdict)
            .bind(encode_record(check))
            .bind(&check.check_id),
        )
        .await?;
        Ok(())
    }

    pub async fn get_check(&self, check_id: Uuid) -> anyhow::Result<Option<TravellerCheck>> {
        self.db
            .fetch_record(
                &Statement::new("SELECT record FROM traveller_checks WHERE check_id = $1")
                    .bind(check_id.to_string()),
            )
            .await
    }
}

/// Lost, stolen and revoked documents.
impl Store {
    /// Records or replaces the reports of these documents, in one statement.
    pub async fn upsert_reports(
        &self,
        tx: &mut Tx,
        reports: &[(DocumentKey, DocumentReport)],
    ) -> anyhow::Result<()> {
        if reports.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO document_reports (issuing_state, document_type, document_number, fingerprint, \
             document_code, status, source, reported_on, created_at) VALUES {}{UPSERT_REPORT_TAIL}",
            placeholders(reports.len(), 9, self.db.backend())
        );
        let mut statement = Statement::new(sql);
        let now = now_millis();
        for (key, report) in reports {
            statement = statement
                .bind(&key.issuing_state)
                .bind(key.document_type.to_string())
                .bind(&key.document_number)
                .bind(key.fingerprint() as i64)
                .bind(&report.document_code)
                .bind(report.status().as_str_name())
                .bind(report.source().as_str_name())
                .bind(proto_date_text(report.reported_on.as_ref()).as_deref())
                .bind(now);
        }
        tx.execute(&statement).await?;
        Ok(())
    }

    /// Removes a document's report; false when there was none.
    pub async fn withdraw_report(&self, tx: &mut Tx, key: &DocumentKey) -> anyhow::Result<bool> {
        let deleted = tx
            .execute(
                &Statement::new(
                    "DELETE FROM document_reports WHERE issuing_state = $1 AND document_type = $2 AND document_number = $3",
                )
                .bind(&key.issuing_state)
                .bind(key.document_type.to_string())
                .bind(&key.document_number),
            )
            .await?;
        Ok(deleted > 0)
    }

    /// The report in force for a document: the exact answer behind the filter.
    pub async fn find_report(&self, key: &DocumentKey) -> anyhow::Result<Option<DocumentReport>> {
        let row: Option<(String, String, String, Option<String>)> = self
            .db
            .fetch_optional(
                &Statement::new(
                    "SELECT document_code, status, source, reported_on FROM document_reports \
                     WHERE issuing_state = $1 AND document_type = $2 AND document_number = $3",
                )
                .bind(&key.issuing_state)
                .bind(key.document_type.to_string())
                .bind(&key.document_number),
            )
            .await?;
        let Some((document_code, status, source, reported_on)) = row else {
            return Ok(None);
        };
        Ok(Some(DocumentReport {
            issuing_state: key.issuing_state.clone(),
            document_code,
            document_number: key.document_number.clone(),
            status: DocumentReportStatus::from_str_name(&status)
                .unwrap_or_default()
                .into(),
            source: DocumentReportSource::from_str_name(&source)
                .unwrap_or_default()
                .into(),
            reported_on: text_proto_date(reported_on.as_deref()),
        }))
    }

    /// Every report's fingerprint, read on a connection of its own, for (re)building the filter.
    pub async fn report_fingerprints(&self) -> anyhow::Result<Vec<u64>> {
        self.db
            .scan(
                Statement::new("SELECT fingerprint FROM document_reports"),
                Vec::new(),
                |fingerprints, (fingerprint,): (i64,)| {
                    fingerprints.push(fingerprint as u64);
                    Ok(())
                },
            )
            .await
    }
}

/// Issued visas.
impl Store {
    /// Records a visa; false when its number is already recorded.
    pub async fn insert_visa(&self, tx: &mut Tx, visa: &IssuedVisa) -> anyhow::Result<bool> {
        let inserted = tx
            .execute(
                &Statement::new(
                    "INSERT INTO issued_visas (visa_number, record, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (visa_number) DO NOTHING",
                )
                .bind(&visa.visa_number)
                .bind(encode_record(visa))
                .bind(now_millis()),
            )
            .await?;
        Ok(inserted == 1)
    }

    pub async fn find_visa(&self, visa_number: &str) -> anyhow::Result<Option<IssuedVisa>> {
        self.db
            .fetch_record(
                &Statement::new("SELECT record FROM issued_visas WHERE visa_number = $1")
                    .bind(visa_number),
            )
            .await
    }

    /// Reads a visa inside the transaction that will count an entry on it.
    pub async fn find_visa_in(
        &self,
        tx: &mut Tx,
        visa_number: &str,
    ) -> anyhow::Result<Option<IssuedVisa>> {
        tx.fetch_record(
            &Statement::new("SELECT record FROM issued_visas WHERE visa_number = $1")
                .bind(visa_number),
        )
        .await
    }

    /// The statement that saves the visa's entries used after an entry on it.
    pub fn visa_update(visa: &IssuedVisa) -> Statement {
        Statement::new("UPDATE issued_visas SET record = $1 WHERE visa_number = $2")
            .bind(encode_record(visa))
            .bind(&visa.visa_number)
    }
}

/// Creates the traveller's EES file, or pushes its retention to `keep_until` if later.
fn file_kept_until(traveller_key: &str, keep_until: NaiveDate) -> Statement {
    Statement::new(
        "INSERT INTO ees_files (traveller_key, keep_until) VALUES ($1, $2) \
         ON CONFLICT (traveller_key) DO UPDATE SET keep_until = CASE \
         WHEN excluded.keep_until > ees_files.keep_until THEN excluded.keep_until \
         ELSE ees_files.keep_until END",
    )
    .bind(traveller_key)
    .bind(date_text(keep_until))
}

/// The watchlist.
impl Store {
    /// Records alerts; an alert id already recorded is kept as it was. Returns how many were new.
    pub async fn insert_alerts(
        &self,
        tx: &mut Tx,
        entries: &[WatchlistEntry],
    ) -> anyhow::Result<u64> {
        if entries.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "INSERT INTO watchlist_entries (alert_id, record, created_at) VALUES {} \
             ON CONFLICT (alert_id) DO NOTHING",
            placeholders(entries.len(), 3, self.db.backend())
        );
        let mut statement = Statement::new(sql);
        let now = now_millis();
        for entry in entries {
            statement = statement
                .bind(&entry.alert_id)
                .bind(encode_record(entry))
                .bind(now);
        }
        tx.execute(&statement).await
    }

    /// Every alert, read on a connection of its own, for building the index at start.
    pub async fn all_alerts(&self) -> anyhow::Result<Vec<WatchlistEntry>> {
        self.db
            .scan(
                Statement::new("SELECT record FROM watchlist_entries"),
                Vec::new(),
                |entries, (record,): (String,)| {
                    entries.push(decode_record(&record)?);
                    Ok(())
                },
            )
            .await
    }
}

/// Entry, exit and refusal records (EES).
impl Store {
    /// The traveller's entries (true) and exits (false) by day from `since` on, refusals left
    /// out, with the last crossing before `since`: an entry there is a stay still open at
    /// `since`, and nothing older can weigh on it.
    pub async fn crossings(
        &self,
        traveller_key: &str,
        since: NaiveDate,
    ) -> anyhow::Result<Vec<(NaiveDate, bool)>> {
        let statement = Statement::new(
            "SELECT crossed_on, kind FROM ees_records \
             WHERE traveller_key = $1 AND kind <> 'REFUSAL' AND crossed_on >= $2 \
             UNION ALL SELECT crossed_on, kind FROM (SELECT crossed_on, kind FROM ees_records \
             WHERE traveller_key = $1 AND kind <> 'REFUSAL' AND crossed_on < $2 \
             ORDER BY crossed_on DESC, created_at DESC LIMIT 1) AS before_since",
        )
        .bind(traveller_key)
        .bind(date_text(since));
        let rows: Vec<(String, String)> = self.db.fetch_all(&statement).await?;
        let mut crossings = Vec::with_capacity(rows.len());
        for (day, kind) in rows {
            if let Some(day) = parse_date_text(&day) {
                crossings.push((day, kind == CrossingKind::Entry.as_str()));
            }
        }
        Ok(crossings)
    }

    /// The EES record a check wrote, if any (read in the transaction that holds the check).
    pub async fn check_crossing(
        &self,
        tx: &mut Tx,
        check_id: &str,
    ) -> anyhow::Result<Option<CheckCrossing>> {
        let row: Option<(String, String, Option<String>)> = tx
            .fetch_optional(
                &Statement::new(
                    "SELECT record_id, kind, visa_number FROM ees_records WHERE check_id = $1 \
                     ORDER BY created_at LIMIT 1",
                )
                .bind(check_id),
            )
            .await?;
        let Some((record_id, kind, visa_number)) = row else {
            return Ok(None);
        };
        Ok(CrossingKind::parse(&kind).map(|kind| CheckCrossing {
            record_id,
            kind,
            visa_number,
        }))
    }

    /// EES Art. 18: turns an entry record into the refusal record, keeping its day and place;
    /// the retention of a refusal is pushed to `keep_until` if later.
    pub async fn entry_becomes_refusal(
        &self,
        tx: &mut Tx,
        record_id: &str,
        traveller_key: &str,
        refusal_codes: &str,
        keep_until: NaiveDate,
    ) -> anyhow::Result<bool> {
        let updated = tx
            .execute(
                &Statement::new(
                    "UPDATE ees_records SET kind = $1, refusal_codes = $2, visa_number = NULL \
                     WHERE record_id = $3 AND kind = $4",
                )
                .bind(CrossingKind::Refusal.as_str())
                .bind(refusal_codes)
                .bind(record_id)
                .bind(CrossingKind::Entry.as_str()),
            )
            .await?;
        tx.execute(&file_kept_until(traveller_key, keep_until))
            .await?;
        Ok(updated == 1)
    }

    /// EES Art. 35: erases an exit record that turned out inaccurate; false when it is gone.
    pub async fn erase_exit(&self, tx: &mut Tx, record_id: &str) -> anyhow::Result<bool> {
        let erased = tx
            .execute(
                &Statement::new("DELETE FROM ees_records WHERE record_id = $1 AND kind = $2")
                    .bind(record_id)
                    .bind(CrossingKind::Exit.as_str()),
            )
            .await?;
        Ok(erased == 1)
    }

    /// The statements that record a crossing and push the traveller's file's retention to
    /// `keep_until` if later.
    pub fn crossing_inserts(record: &CrossingRecord<'_>) -> [Statement; 2] {
        [
            Statement::new(
                "INSERT INTO ees_records (record_id, traveller_key, kind, crossed_on, crossing_point, \
                 nationality, refusal_codes, created_at, check_id, visa_number) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(new_record_id().to_string())
            .bind(record.traveller_key)
            .bind(record.kind.as_str())
            .bind(date_text(record.crossed_on))
            .bind(record.crossing_point)
            .bind(record.nationality)
            .bind(record.refusal_codes)
            .bind(now_millis())
            .bind(record.check_id)
            .bind(record.visa_number),
            file_kept_until(record.traveller_key, record.keep_until),
        ]
    }

    /// Records a crossing in `tx`, as [`Self::crossing_inserts`] says.
    pub async fn record_crossing(
        &self,
        tx: &mut Tx,
        record: &CrossingRecord<'_>,
    ) -> anyhow::Result<()> {
        tx.execute_all(&Self::crossing_inserts(record))
            .await
            .map(drop)
    }

    /// EES Art. 35: deletes the files whose retention ended before `today`, with their records.
    /// Returns the number of records deleted.
    pub async fn purge_expired_crossings(&self, today: NaiveDate) -> anyhow::Result<u64> {
        let today = date_text(today);
        let mut tx = self.db.begin().await?;
        let deleted = tx
            .execute(
                &Statement::new(
                    "DELETE FROM ees_records WHERE traveller_key IN \
                     (SELECT traveller_key FROM ees_files WHERE keep_until < $1)",
                )
                .bind(&today),
            )
            .await?;
        tx.execute(&Statement::new("DELETE FROM ees_files WHERE keep_until < $1").bind(&today))
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use bordermesh_kit::storage::{Checkpoints, testing};

    use super::*;

    async fn open(url: &str) -> Store {
        Store::new(
            Db::connect(url, &crate::MIGRATIONS, Checkpoints::Periodic)
                .await
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn a_check_is_read_back_as_written_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = open(&database.url).await;
            let check = TravellerCheck {
                check_id: Uuid::new_v4().to_string(),
                reference: "driver".into(),
                verdict: 1,
                ..Default::default()
            };
            let mut tx = store.db().begin().await.unwrap();
            let row = CheckRow {
                crossing_point: "SI-OBREZJE",
                direction: "ENTRY",
                verdict: "CLEAR",
                nationality: "SRB",
                crossing_date: ymd(2026, 3, 1),
                visa_number: None,
            };
            tx.execute(&Store::check_insert(&row, &check))
                .await
                .unwrap();
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

    #[test]
    fn bulk_statements_number_parameters_on_postgresql_only() {
        assert_eq!(placeholders(2, 2, Backend::Postgres), "($1, $2), ($3, $4)");
        assert_eq!(placeholders(2, 2, Backend::Sqlite), "(?, ?), (?, ?)");
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[tokio::test]
    async fn reports_are_found_exactly_withdrawn_and_fingerprinted_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = open(&database.url).await;
            let key = DocumentKey::new("SRB", "P", "012345678");
            let report = DocumentReport {
                issuing_state: "SRB".into(),
                document_code: "P".into(),
                document_number: "012345678".into(),
                status: DocumentReportStatus::Stolen.into(),
                source: DocumentReportSource::Sltd.into(),
                reported_on: Some(bordermesh_kit::validate::date_to_proto(ymd(2025, 1, 2))),
            };
            let mut tx = store.db().begin().await.unwrap();
            store
                .upsert_reports(&mut tx, &[(key.clone(), report.clone())])
                .await
                .unwrap();
            // A second report of the same document replaces the first.
            store
                .upsert_reports(&mut tx, &[(key.clone(), report.clone())])
                .await
                .unwrap();
            tx.commit().await.unwrap();
            assert_eq!(
                store.find_report(&key).await.unwrap(),
                Some(report),
                "{:?}",
                database.backend
            );
            assert_eq!(
                store
                    .find_report(&DocumentKey::new("SRB", "I", "012345678"))
                    .await
                    .unwrap(),
                None
            );
            assert_eq!(
                store.report_fingerprints().await.unwrap(),
                [key.fingerprint()]
            );
            let mut tx = store.db().begin().await.unwrap();
            assert!(store.withdraw_report(&mut tx, &key).await.unwrap());
            assert!(!store.withdraw_report(&mut tx, &key).await.unwrap());
            tx.commit().await.unwrap();
            assert_eq!(store.find_report(&key).await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn sbc_art_6_stay_reads_carry_the_entry_still_open_at_the_cutoff_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = open(&database.url).await;
            let mut tx = store.db().begin().await.unwrap();
            for (kind, crossed_on) in [
                (CrossingKind::Entry, ymd(2019, 1, 1)),
                (CrossingKind::Exit, ymd(2019, 2, 1)),
                (CrossingKind::Entry, ymd(2020, 1, 1)),
                (CrossingKind::Exit, ymd(2020, 8, 1)),
                (CrossingKind::Entry, ymd(2020, 9, 1)),
            ] {
                let row = CrossingRecord {
                    traveller_key: "SRB/1",
                    kind,
                    crossed_on,
                    crossing_point: "SI-OBREZJE",
                    nationality: "SRB",
                    refusal_codes: "",
                    keep_until: ymd(2030, 1, 1),
                    check_id: None,
                    visa_number: None,
                };
                store.record_crossing(&mut tx, &row).await.unwrap();
            }
            tx.commit().await.unwrap();
            let mut read = store.crossings("SRB/1", ymd(2020, 6, 1)).await.unwrap();
            read.sort();
            assert_eq!(
                read,
                [
                    (ymd(2020, 1, 1), true),
                    (ymd(2020, 8, 1), false),
                    (ymd(2020, 9, 1), true)
                ],
                "{:?}",
                database.backend
            );
        }
    }

    #[tokio::test]
    async fn ees_art_35_expired_files_are_purged_with_their_records_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = open(&database.url).await;
            let record = |key, kind, crossed_on, keep_until| CrossingRecord {
                traveller_key: key,
                kind,
                crossed_on,
                crossing_point: "SI-OBREZJE",
                nationality: "SRB",
                refusal_codes: "",
                keep_until,
                check_id: None,
                visa_number: None,
            };
            let mut tx = store.db().begin().await.unwrap();
            for row in [
                record(
                    "SRB/1",
                    CrossingKind::Entry,
                    ymd(2020, 1, 1),
                    ymd(2025, 3, 30),
                ),
                record(
                    "SRB/1",
                    CrossingKind::Exit,
                    ymd(2020, 1, 10),
                    ymd(2023, 1, 10),
                ),
                record(
                    "SRB/2",
                    CrossingKind::Exit,
                    ymd(2022, 1, 10),
                    ymd(2027, 1, 10),
                ),
            ] {
                store.record_crossing(&mut tx, &row).await.unwrap();
            }
            tx.commit().await.unwrap();
            assert_eq!(
                store.crossings("SRB/1", NaiveDate::MIN).await.unwrap(),
                [(ymd(2020, 1, 1), true), (ymd(2020, 1, 10), false)]
            );
            // The later of the two retention dates holds the file until 2025-03-30.
            assert_eq!(
                store
                    .purge_expired_crossings(ymd(2025, 3, 30))
                    .await
                    .unwrap(),
                0
            );
            assert_eq!(
                store
                    .purge_expired_crossings(ymd(2025, 3, 31))
                    .await
                    .unwrap(),
                2,
                "{:?}",
                database.backend
            );
            assert!(
                store
                    .crossings("SRB/1", NaiveDate::MIN)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(
                store
                    .crossings("SRB/2", NaiveDate::MIN)
                    .await
                    .unwrap()
                    .len(),
                1
            );
        }
    }

    #[tokio::test]
    async fn ees_art_35_only_an_exit_record_is_erased_and_only_once_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = open(&database.url).await;
            let check_id = Uuid::new_v4().to_string();
            let record = |kind| CrossingRecord {
                traveller_key: "SRB/2",
                kind,
                crossed_on: ymd(2026, 7, 10),
                crossing_point: "SI-OBREZJE",
                nationality: "SRB",
                refusal_codes: "",
                keep_until: ymd(2029, 7, 10),
                check_id: Some(&check_id),
                visa_number: None,
            };
            let mut tx = store.db().begin().await.unwrap();
            store
                .record_crossing(&mut tx, &record(CrossingKind::Entry))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let mut tx = store.db().begin().await.unwrap();
            let entry = store
                .check_crossing(&mut tx, &check_id)
                .await
                .unwrap()
                .unwrap();
            assert!(!store.erase_exit(&mut tx, &entry.record_id).await.unwrap());
            tx.commit().await.unwrap();

            let exit_check = Uuid::new_v4().to_string();
            let mut tx = store.db().begin().await.unwrap();
            store
                .record_crossing(
                    &mut tx,
                    &CrossingRecord {
                        check_id: Some(&exit_check),
                        ..record(CrossingKind::Exit)
                    },
                )
                .await
                .unwrap();
            let exit = store
                .check_crossing(&mut tx, &exit_check)
                .await
                .unwrap()
                .unwrap();
            assert!(store.erase_exit(&mut tx, &exit.record_id).await.unwrap());
            assert!(!store.erase_exit(&mut tx, &exit.record_id).await.unwrap());
            tx.commit().await.unwrap();
            // What is left is the entry: (day, entered).
            assert_eq!(
                store.crossings("SRB/2", NaiveDate::MIN).await.unwrap(),
                [(ymd(2026, 7, 10), true)],
                "{:?}",
                database.backend
            );
        }
    }

    #[tokio::test]
    async fn ees_art_18_a_checks_entry_record_becomes_its_refusal_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = open(&database.url).await;
            let check = TravellerCheck {
                check_id: Uuid::new_v4().to_string(),
                verdict: 1,
                ..Default::default()
            };
            let row = CheckRow {
                crossing_point: "SI-OBREZJE",
                direction: "ENTRY",
                verdict: "VERDICT_CLEAR",
                nationality: "SRB",
                crossing_date: ymd(2026, 7, 2),
                visa_number: Some("SVN0001234"),
            };
            let entry = CrossingRecord {
                traveller_key: "SRB/1",
                kind: CrossingKind::Entry,
                crossed_on: ymd(2026, 7, 2),
                crossing_point: "SI-OBREZJE",
                nationality: "SRB",
                refusal_codes: "",
                keep_until: ymd(2031, 7, 2),
                check_id: Some(&check.check_id),
                visa_number: Some("SVN0001234"),
            };
            let mut tx = store.db().begin().await.unwrap();
            tx.execute(&Store::check_insert(&row, &check))
                .await
                .unwrap();
            store.record_crossing(&mut tx, &entry).await.unwrap();
            tx.commit().await.unwrap();

            let mut tx = store.db().begin().await.unwrap();
            assert!(store.lock_check(&mut tx, &check.check_id).await.unwrap());
            assert!(
                !store
                    .lock_check(&mut tx, &Uuid::new_v4().to_string())
                    .await
                    .unwrap()
            );
            let stored = store
                .stored_check(&mut tx, &check.check_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(stored.check, check, "{:?}", database.backend);
            assert_eq!(stored.first_line_verdict, "VERDICT_CLEAR");
            assert_eq!(stored.crossing_date, ymd(2026, 7, 2));
            assert_eq!(stored.visa_number.as_deref(), Some("SVN0001234"));
            let written = store
                .check_crossing(&mut tx, &check.check_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(written.kind, CrossingKind::Entry);
            assert_eq!(written.visa_number.as_deref(), Some("SVN0001234"));
            assert!(
                store
                    .entry_becomes_refusal(
                        &mut tx,
                        &written.record_id,
                        "SRB/1",
                        "EC",
                        ymd(2029, 7, 2)
                    )
                    .await
                    .unwrap()
            );
            // Only an entry turns into a refusal: never twice.
            assert!(
                !store
                    .entry_becomes_refusal(
                        &mut tx,
                        &written.record_id,
                        "SRB/1",
                        "EC",
                        ymd(2029, 7, 2)
                    )
                    .await
                    .unwrap()
            );
            let refused = TravellerCheck {
                verdict: 4,
                ..check.clone()
            };
            store
                .update_check(&mut tx, "VERDICT_REFUSE", &refused)
                .await
                .unwrap();
            tx.commit().await.unwrap();

            let mut tx = store.db().begin().await.unwrap();
            let written = store
                .check_crossing(&mut tx, &check.check_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                written.kind,
                CrossingKind::Refusal,
                "{:?}",
                database.backend
            );
            assert_eq!(written.visa_number, None);
            let stored = store
                .stored_check(&mut tx, &check.check_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(stored.first_line_verdict, "VERDICT_CLEAR");
            tx.rollback().await.unwrap();
            assert!(
                store
                    .crossings("SRB/1", NaiveDate::MIN)
                    .await
                    .unwrap()
                    .is_empty()
            );
            let id = Uuid::parse_str(&check.check_id).unwrap();
            assert_eq!(store.get_check(id).await.unwrap(), Some(refused));
        }
    }

    #[tokio::test]
    async fn visas_and_alerts_are_read_back_on_every_backend() {
        for database in testing::databases().await.unwrap() {
            let store = open(&database.url).await;
            let mut visa = IssuedVisa {
                visa_number: "SVN000123".into(),
                entries_allowed: 1,
                ..Default::default()
            };
            let mut tx = store.db().begin().await.unwrap();
            assert!(store.insert_visa(&mut tx, &visa).await.unwrap());
            assert!(!store.insert_visa(&mut tx, &visa).await.unwrap());
            visa.entries_used = 1;
            tx.execute(&Store::visa_update(&visa)).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(store.find_visa("SVN000123").await.unwrap(), Some(visa));
            let alert = WatchlistEntry {
                alert_id: "SIS-1".into(),
                primary_identifier: "PETROVIC".into(),
                ..Default::default()
            };
            let mut tx = store.db().begin().await.unwrap();
            assert_eq!(
                store
                    .insert_alerts(&mut tx, std::slice::from_ref(&alert))
                    .await
                    .unwrap(),
                1
            );
            assert_eq!(
                store
                    .insert_alerts(&mut tx, std::slice::from_ref(&alert))
                    .await
                    .unwrap(),
                0
            );
            tx.commit().await.unwrap();
            assert_eq!(
                store.all_alerts().await.unwrap(),
                [alert],
                "{:?}",
                database.backend
            );
        }
    }
}
