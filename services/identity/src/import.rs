//! Bulk import of lost, stolen and revoked documents from CSV or JSON Lines, with a progress
//! bar: how an SLTD extract or a national list of tens of millions of records gets loaded.
//!
//! CSV has a header `issuing_state,document_code,document_number,status,source,reported_on`;
//! JSON Lines has one object a line with the same keys. `status` is LOST, STOLEN or REVOKED,
//! `source` SLTD or NATIONAL, `reported_on` an optional YYYY-MM-DD.

use std::{
    fs::File,
    io::{BufRead, BufReader},
    path::Path,
};

use anyhow::Context;
use bordermesh_kit::db::Tx;
use bordermesh_proto::identity::v1::{DocumentReport, DocumentReportSource, DocumentReportStatus};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

use crate::{
    domain::sltd::DocumentKey,
    store::{IMPORT_BATCH, Store},
};

/// Statements committed together: large enough that a commit's cost is spread over many rows.
const BATCHES_PER_TRANSACTION: usize = 50;
/// Rejected rows described in the summary; the rest are only counted.
const REJECTIONS_SHOWN: usize = 10;

#[derive(Debug, Deserialize)]
struct ImportedReport {
    issuing_state: String,
    document_code: String,
    document_number: String,
    status: String,
    source: String,
    #[serde(default)]
    reported_on: Option<String>,
}

#[derive(Debug, Default)]
pub struct ImportSummary {
    pub imported: u64,
    pub rejected: u64,
    /// The first rejected rows, with their line number and why.
    pub rejections: Vec<String>,
}

/// A row as a report, or why not.
fn report(row: ImportedReport) -> Result<(DocumentKey, DocumentReport), String> {
    let state_ok = row.issuing_state.len() == 3
        && row
            .issuing_state
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c == b'<');
    if !state_ok {
        return Err(format!(
            "issuing_state {:?} is not an ICAO code",
            row.issuing_state
        ));
    }
    let code_ok = matches!(row.document_code.len(), 1 | 2)
        && row
            .document_code
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c == b'<');
    if !code_ok {
        return Err(format!(
            "document_code {:?} is not an ICAO code",
            row.document_code
        ));
    }
    let number_ok = (1..=64).contains(&row.document_number.len())
        && row
            .document_number
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'<');
    if !number_ok {
        return Err("document_number must be 1 to 64 of A-Z, 0-9 and <".into());
    }
    let status = match row.status.as_str() {
        "LOST" => DocumentReportStatus::Lost,
        "STOLEN" => DocumentReportStatus::Stolen,
        "REVOKED" => DocumentReportStatus::Revoked,
        other => return Err(format!("status {other:?} is not LOST, STOLEN or REVOKED")),
    };
    let source = match row.source.as_str() {
        "SLTD" => DocumentReportSource::Sltd,
        "NATIONAL" => DocumentReportSource::National,
        other => return Err(format!("source {other:?} is not SLTD or NATIONAL")),
    };
    let reported_on = match row.reported_on.as_deref().filter(|text| !text.is_empty()) {
        Some(text) => Some(
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(bordermesh_kit::validate::date_to_proto)
                .map_err(|_| format!("reported_on {text:?} is not a YYYY-MM-DD date"))?,
        ),
        None => None,
    };
    let key = DocumentKey::new(&row.issuing_state, &row.document_code, &row.document_number);
    let report = DocumentReport {
        issuing_state: key.issuing_state.clone(),
        document_code: row.document_code,
        document_number: key.document_number.clone(),
        status: status.into(),
        source: source.into(),
        reported_on,
    };
    Ok((key, report))
}

/// Writes reports batch by batch, committing every few batches.
struct Writer<'a> {
    store: &'a Store,
    batch: Vec<(DocumentKey, DocumentReport)>,
    transaction: Option<Tx>,
    batches_in_transaction: usize,
    summary: ImportSummary,
}

impl<'a> Writer<'a> {
    fn new(store: &'a Store) -> Self {
        Self {
            store,
            batch: Vec::with_capacity(IMPORT_BATCH),
            transaction: None,
            batches_in_transaction: 0,
            summary: ImportSummary::default(),
        }
    }

    async fn row(&mut self, line: u64, row: Result<ImportedReport, String>) -> anyhow::Result<()> {
        match row.and_then(report) {
            Ok(report) => {
                self.batch.push(report);
                if self.batch.len() == IMPORT_BATCH {
                    self.flush().await?;
                }
            }
            Err(reason) => {
                self.summary.rejected += 1;
                if self.summary.rejections.len() < REJECTIONS_SHOWN {
                    self.summary
                        .rejections
                        .push(format!("line {line}: {reason}"));
                }
            }
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let transaction = match self.transaction.as_mut() {
            Some(transaction) => transaction,
            None => self.transaction.insert(self.store.db().begin().await?),
        };
        self.store
            .upsert_reports(transaction, &self.batch)
            .await
            .context("writing a batch of reports")?;
        self.summary.imported += self.batch.len() as u64;
        self.batch.clear();
        self.batches_in_transaction += 1;
        if self.batches_in_transaction == BATCHES_PER_TRANSACTION {
            self.commit().await?;
        }
        Ok(())
    }

    async fn commit(&mut self) -> anyhow::Result<()> {
        if let Some(transaction) = self.transaction.take() {
            transaction.commit().await?;
        }
        self.batches_in_transaction = 0;
        Ok(())
    }

    async fn finish(mut self) -> anyhow::Result<ImportSummary> {
        self.flush().await?;
        self.commit().await?;
        Ok(self.summary)
    }
}

fn progress_bar(total_bytes: u64, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total_bytes);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta} left)",
    ) {
        bar.set_style(style);
    }
    bar.set_message("importing documents");
    bar
}

/// Imports a `.csv` or `.jsonl` (`.ndjson`) file; rows already present are replaced, bad rows
/// are counted and skipped. The store stays the record: restart the service (or let its filter
/// rebuild) for lookups to see a large import.
pub async fn import_documents(
    store: &Store,
    path: &Path,
    show_progress: bool,
) -> anyhow::Result<ImportSummary> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress_bar(total, show_progress);
    let mut writer = Writer::new(store);
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    match extension {
        "csv" => {
            let mut reader = csv::Reader::from_reader(BufReader::new(file));
            let mut record = csv::StringRecord::new();
            let headers = reader.headers()?.clone();
            let mut rows: u64 = 0;
            loop {
                rows += 1;
                match reader.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {
                        let line = record.position().map_or(0, |p| p.line());
                        let row = record
                            .deserialize::<ImportedReport>(Some(&headers))
                            .map_err(|e| e.to_string());
                        writer.row(line, row).await?;
                    }
                    Err(error) => {
                        let line = error.position().map_or(0, |p| p.line());
                        writer.row(line, Err(error.to_string())).await?;
                    }
                }
                if rows.is_multiple_of(10_000) {
                    bar.set_position(reader.position().byte());
                }
            }
        }
        "jsonl" | "ndjson" => {
            let mut reader = BufReader::new(file);
            let mut text = String::new();
            let mut line: u64 = 0;
            let mut read = 0u64;
            loop {
                text.clear();
                let bytes = reader.read_line(&mut text)?;
                if bytes == 0 {
                    break;
                }
                line += 1;
                read += bytes as u64;
                if text.trim().is_empty() {
                    continue;
                }
                let row = serde_json::from_str::<ImportedReport>(&text).map_err(|e| e.to_string());
                writer.row(line, row).await?;
                if line.is_multiple_of(10_000) {
                    bar.set_position(read);
                }
            }
        }
        other => anyhow::bail!(
            "{}: expected a .csv or .jsonl file, not .{other}",
            path.display()
        ),
    }
    let summary = writer.finish().await?;
    bar.finish_and_clear();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use bordermesh_kit::{
        db::Db,
        storage::{Checkpoints, testing},
    };

    use super::*;

    async fn open(url: &str) -> Store {
        Store::new(
            Db::connect(url, &crate::MIGRATIONS, Checkpoints::Periodic)
                .await
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn csv_and_json_lines_import_and_bad_rows_are_counted_on_every_backend() {
        let dir = tempfile::tempdir().unwrap();
        let csv_path = dir.path().join("sltd.csv");
        let mut csv_file = File::create(&csv_path).unwrap();
        writeln!(
            csv_file,
            "issuing_state,document_code,document_number,status,source,reported_on"
        )
        .unwrap();
        for n in 0..2_500 {
            writeln!(csv_file, "SRB,P,{n:09},STOLEN,SLTD,2025-01-02").unwrap();
        }
        writeln!(csv_file, "srb,P,1,STOLEN,SLTD,").unwrap();
        writeln!(csv_file, "SRB,P,2,MISLAID,SLTD,").unwrap();
        let jsonl_path = dir.path().join("national.jsonl");
        let mut jsonl_file = File::create(&jsonl_path).unwrap();
        writeln!(
            jsonl_file,
            r#"{{"issuing_state":"D<<","document_code":"ID","document_number":"T22000129","status":"REVOKED","source":"NATIONAL"}}"#
        )
        .unwrap();
        writeln!(jsonl_file, "not json").unwrap();
        for database in testing::databases().await.unwrap() {
            let store = open(&database.url).await;
            let summary = import_documents(&store, &csv_path, false).await.unwrap();
            assert_eq!(
                (summary.imported, summary.rejected),
                (2_500, 2),
                "{:?}",
                database.backend
            );
            assert!(
                summary.rejections[0].contains("issuing_state"),
                "{:?}",
                summary.rejections
            );
            assert!(summary.rejections[1].contains("MISLAID"));
            let summary = import_documents(&store, &jsonl_path, false).await.unwrap();
            assert_eq!((summary.imported, summary.rejected), (1, 1));
            let found = store
                .find_report(&DocumentKey::new("D<<", "I", "T22000129"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(found.status(), DocumentReportStatus::Revoked);
            assert_eq!(store.report_fingerprints().await.unwrap().len(), 2_501);
        }
        assert!(
            import_documents(
                &open(&testing::sqlite().unwrap().url).await,
                &dir.path().join("list.xml"),
                false
            )
            .await
            .is_err()
        );
    }
}
