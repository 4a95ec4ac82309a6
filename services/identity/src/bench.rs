//! `bordermesh bench watchlist|sltd|manifest`: each starts what it measures on generated data
//! in a temporary directory, prints a readable report, and as its last line one JSON object.

use std::{
    collections::HashSet,
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::Context;
use bordermesh_kit::{
    config::Config, db::Db, server::ServerHandle, storage::Checkpoints, validate::date_to_proto,
};
use bordermesh_proto::identity::v1::{self as pb, identity_service_client::IdentityServiceClient};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::{
    domain::{sltd::DocumentKey, transliteration::to_mrz_alphabet},
    import,
    registers::{DocumentRegister, WatchlistRegister},
    store::{IMPORT_BATCH, Store},
};

/// Python and the rapidfuzz baseline: `BORDERMESH_BENCH_PYTHON`, else the CI venv.
const PYTHON_ENV: &str = "BORDERMESH_BENCH_PYTHON";
const DEFAULT_PYTHON: &str = ".ci/venv/bin/python";
/// Queries sent to the rapidfuzz baseline: each scans the whole list, so fewer are enough.
const BASELINE_QUERIES: usize = 100;
const WARMUP_QUERIES: usize = 50;

const RAPIDFUZZ_SCRIPT: &str = r#"
import json, sys, time
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler
choices = open(sys.argv[1], encoding="utf-8").read().split("\n")
queries = open(sys.argv[2], encoding="utf-8").read().split("\n")
timings = []
for query in queries:
    start = time.perf_counter()
    process.extract(query, choices, scorer=JaroWinkler.normalized_similarity, limit=10)
    timings.append((time.perf_counter() - start) * 1000.0)
timings.sort()
print(json.dumps({"queries": len(timings), "p50_ms": timings[len(timings) // 2],
                  "p99_ms": timings[min(len(timings) - 1, len(timings) * 99 // 100)]}))
"#;

/// The nearest-rank percentile: the smallest value with at least `percent` % of the values at
/// or below it (of 100 values, the 99th is the 99th smallest, not the largest).
fn percentile(sorted: &[f64], percent: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

fn bar(total: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{elapsed_precise}] {wide_bar} {pos}/{len}")
    {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar
}

/// Resident memory of this process, from /proc/self/statm (pages of 4 KiB).
fn resident_bytes() -> anyhow::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").context("reading /proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .context("statm has no resident field")?
        .parse()?;
    Ok(pages * 4096)
}

/// Generated people: deterministic from a seed, with names in Latin with national characters,
/// Cyrillic and Greek, so that transliteration is exercised.
struct Generator {
    rng: fastrand::Rng,
}

const SYLLABLES: &[&str] = &[
    "KA", "RO", "MI", "LE", "NA", "TO", "SE", "VI", "DA", "PE", "LO", "RA", "NI", "KO", "MA", "TI",
    "BE", "GO", "ZA", "LU", "HA", "FE", "DO", "SU", "RI", "BO", "TA", "NE", "JA", "VO", "GRA",
    "STE", "BRI", "KRA", "PLO", "DRU",
];
const ENDINGS: &[&str] = &[
    "NOV", "SKI", "VIC", "SSON", "MANN", "ER", "EN", "OS", "IDIS", "ENKO", "AR", "EL", "OVA",
    "ESCU", "AKIS", "SEN", "ETTI", "EZ",
];
const GIVEN: &[&str] = &[
    "ANNA",
    "MARIA",
    "JOHN",
    "PETER",
    "MARKO",
    "ELENA",
    "IVAN",
    "SOFIA",
    "LUCA",
    "EMMA",
    "OMAR",
    "FATIMA",
    "AHMED",
    "LEILA",
    "DAVID",
    "SARAH",
    "MIHAI",
    "IOANA",
    "ALEKSANDAR",
    "MILICA",
    "THOMAS",
    "LAURA",
    "ALI",
    "HASSAN",
    "NINA",
    "PAVEL",
    "OLGA",
    "TOMAS",
    "EVA",
    "KAROL",
    "YUSUF",
    "AMINA",
    "ARTUR",
    "DIANA",
    "VIKTOR",
    "LINA",
    "ADAM",
    "MILA",
    "RAFAEL",
    "ZEYNEP",
];
/// Names in their own script, transliterated by ICAO 9303 Part 3 before matching.
const NATIONAL: &[&str] = &[
    "Müller",
    "Jürgen",
    "Schäfer",
    "Köhler",
    "Größer",
    "Björn",
    "Søren",
    "Åsa",
    "Jörg",
    "Krüger",
    "Jäger",
    "Strauß",
    "Шевченко",
    "Юрий",
    "Харитонов",
    "Жанна",
    "Щукин",
    "Яков",
    "Цветков",
    "Иванов",
    "Ковалёв",
    "Ольга",
    "Παπαδόπουλος",
    "Γεώργιος",
    "Χρήστος",
    "Θεοδωρίδης",
    "Φωτεινή",
    "Βασίλειος",
    "Ψαρράς",
    "Δημήτριος",
];
const NATIONALITIES: &[&str] = &[
    "SRB", "UKR", "TUR", "MAR", "ALB", "RUS", "GEO", "NGA", "CHN", "IND", "BRA", "USA", "XXA",
    "SYR", "AFG", "GBR", "D<<", "GRC", "ROU", "POL",
];

impl Generator {
    fn new(seed: u64) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.usize(..items.len())]
    }

    fn surname(&mut self) -> String {
        if self.rng.u8(..10) == 0 {
            return self.pick(NATIONAL).to_owned();
        }
        let syllables = self.rng.usize(1..=3);
        let mut name: String = (0..syllables).map(|_| self.pick(SYLLABLES)).collect();
        name.push_str(self.pick(ENDINGS));
        name
    }

    fn given(&mut self) -> String {
        if self.rng.u8(..10) == 0 {
            self.pick(NATIONAL).to_owned()
        } else {
            self.pick(GIVEN).to_owned()
        }
    }

    fn birth_date(&mut self) -> NaiveDate {
        let days = self.rng.i64(0..(80 * 365));
        NaiveDate::from_ymd_opt(1940, 1, 1)
            .and_then(|start| start.checked_add_signed(chrono::Duration::days(days)))
            .unwrap_or(NaiveDate::MIN)
    }

    fn sex(&mut self) -> &'static str {
        if self.rng.bool() { "F" } else { "M" }
    }

    /// An alert: 85% exact dates of birth, 10% the year only, 5% unknown.
    fn alert(&mut self, index: usize) -> pb::WatchlistEntry {
        let birth = self.birth_date();
        let (precision, birth_date) = match self.rng.u8(..100) {
            0..85 => (pb::BirthDatePrecision::Exact, Some(date_to_proto(birth))),
            85..95 => (pb::BirthDatePrecision::Year, Some(date_to_proto(birth))),
            _ => (pb::BirthDatePrecision::Unknown, None),
        };
        pb::WatchlistEntry {
            alert_id: format!("SIS-{index:08}"),
            primary_identifier: self.surname(),
            secondary_identifier: self.given(),
            birth_date,
            birth_date_precision: precision.into(),
            nationality: self.pick(NATIONALITIES).to_owned(),
            sex: self.sex().to_owned(),
            reason: "SIS Art. 24 refusal of entry".into(),
        }
    }

    /// A traveller who is on no list.
    fn stranger(&mut self) -> pb::PersonData {
        pb::PersonData {
            primary_identifier: to_mrz_alphabet(&self.surname()),
            secondary_identifier: to_mrz_alphabet(&self.given()),
            birth_date: Some(date_to_proto(self.birth_date())),
            nationality: self.pick(NATIONALITIES).to_owned(),
            sex: self.sex().to_owned(),
            ..Default::default()
        }
    }

    fn letter(&mut self) -> char {
        char::from(b'A' + self.rng.u8(..26))
    }

    /// One edit in one word of a name.
    fn edit_word(&mut self, name: &str, drop: bool) -> String {
        let mut words: Vec<String> = name.split(' ').map(str::to_owned).collect();
        let word_index = self.rng.usize(..words.len());
        let word = &mut words[word_index];
        if word.len() > 3 {
            let position = self.rng.usize(1..word.len());
            if drop {
                word.remove(position);
            } else {
                let letter = self.letter();
                word.replace_range(position..position + 1, &letter.to_string());
            }
        }
        words.join(" ")
    }

    /// A traveller the alert names, as a document or passenger list might write them: the
    /// same spelling, a typo, a dropped letter, names swapped, or another transliteration.
    fn variant(&mut self, alert: &pb::WatchlistEntry) -> (pb::PersonData, &'static str) {
        let primary = to_mrz_alphabet(&alert.primary_identifier);
        let secondary = to_mrz_alphabet(&alert.secondary_identifier);
        let has_national =
            !alert.primary_identifier.is_ascii() || !alert.secondary_identifier.is_ascii();
        let (primary, secondary, kind) = match self.rng.u8(..5) {
            0 => (primary, secondary, "same spelling"),
            1 => {
                let primary = self.edit_word(&primary, false);
                (primary, secondary, "typo")
            }
            2 => {
                let secondary = self.edit_word(&secondary, true);
                (primary, secondary, "dropped letter")
            }
            3 => (secondary, primary, "swapped names"),
            _ if has_national => (
                other_transliteration(&alert.primary_identifier),
                other_transliteration(&alert.secondary_identifier),
                "other transliteration",
            ),
            _ => {
                let secondary = self.edit_word(&secondary, false);
                (primary, secondary, "typo")
            }
        };
        let birth = match pb::BirthDatePrecision::try_from(alert.birth_date_precision) {
            Ok(pb::BirthDatePrecision::Exact) => alert.birth_date,
            Ok(pb::BirthDatePrecision::Year) => alert.birth_date.map(|date| {
                let day = self.rng.u32(1..=28);
                pb_date(date.year, self.rng.u32(1..=12), day)
            }),
            _ => Some(date_to_proto(self.birth_date())),
        };
        (
            pb::PersonData {
                primary_identifier: primary,
                secondary_identifier: secondary,
                birth_date: birth,
                nationality: alert.nationality.clone(),
                sex: alert.sex.clone(),
                ..Default::default()
            },
            kind,
        )
    }
}

fn pb_date(year: i32, month: u32, day: u32) -> bordermesh_proto::common::v1::Date {
    NaiveDate::from_ymd_opt(year, month, day)
        .map(date_to_proto)
        .unwrap_or_default()
}

/// The spellings another habit gives: Ü as U, Х as H, Й as Y, Ю as YU, Φ as PH and so on.
fn other_transliteration(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_uppercase) {
        let other = match c {
            'Ä' | 'Å' => "A",
            'Ö' | 'Ø' => "O",
            'Ü' => "U",
            'Х' => "H",
            'Й' | 'Ы' => "Y",
            'Ю' => "YU",
            'Я' => "YA",
            'Ц' => "C",
            'Щ' => "SCH",
            'Ё' => "YO",
            'Χ' => "H",
            'Φ' => "PH",
            'Υ' => "I",
            _ => "",
        };
        if other.is_empty() {
            out.push_str(&to_mrz_alphabet(&c.to_string()));
        } else {
            out.push_str(other);
        }
    }
    out
}

/// A running identity service on a loopback port, stopped when dropped.
struct RunningIdentity {
    client: IdentityServiceClient<Channel>,
    shutdown: CancellationToken,
    served: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningIdentity {
    async fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let mut config = Config {
            data_dir: data_dir.to_path_buf(),
            drain_seconds: 1,
            ..Config::default()
        };
        let any_port: SocketAddr = "127.0.0.1:0".parse()?;
        config.identity.listen = any_port;
        let shutdown = CancellationToken::new();
        let handle =
            ServerHandle::bind(any_port, shutdown.clone(), config.server_options()).await?;
        let address = handle.local_addr()?;
        let served = tokio::spawn(async move { crate::serve(&config, handle).await });
        let channel = Channel::from_shared(format!("http://{address}"))?
            .connect()
            .await?;
        let mut client = IdentityServiceClient::new(channel);
        // The service answers once its registers are loaded; wait for the first answer.
        client
            .lookup_document(pb::LookupDocumentRequest {
                issuing_state: "UTO".into(),
                document_code: "P".into(),
                document_number: "0".into(),
            })
            .await
            .context("the identity service did not start")?;
        Ok(Self {
            client,
            shutdown,
            served,
        })
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.served.await??;
        Ok(())
    }
}

async fn open_store(data_dir: &Path) -> anyhow::Result<Store> {
    let url = storage_url(data_dir);
    Ok(Store::new(
        Db::connect(&url, &crate::MIGRATIONS, Checkpoints::Periodic).await?,
    ))
}

fn storage_url(data_dir: &Path) -> String {
    Config {
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    }
    .database_url("identity", None)
}

/// Generates `entries` alerts and writes them to the store with a progress bar.
async fn seed_watchlist(
    store: &Store,
    entries: usize,
    seed: u64,
) -> anyhow::Result<Vec<pb::WatchlistEntry>> {
    let mut generator = Generator::new(seed);
    let alerts: Vec<pb::WatchlistEntry> = (0..entries).map(|i| generator.alert(i)).collect();
    let progress = bar(entries as u64, "writing alerts");
    for chunk in alerts.chunks(IMPORT_BATCH * 20) {
        let mut tx = store.db().begin().await?;
        for batch in chunk.chunks(IMPORT_BATCH) {
            store.insert_alerts(&mut tx, batch).await?;
        }
        tx.commit().await?;
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    Ok(alerts)
}

fn python() -> PathBuf {
    std::env::var_os(PYTHON_ENV).map_or_else(|| PathBuf::from(DEFAULT_PYTHON), PathBuf::from)
}

/// rapidfuzz's `process.extract` with Jaro-Winkler over the same names, as a team would
/// otherwise write the screening; None when Python or rapidfuzz is missing.
fn rapidfuzz_baseline(
    dir: &Path,
    alerts: &[pb::WatchlistEntry],
    queries: &[pb::PersonData],
) -> anyhow::Result<Option<serde_json::Value>> {
    let python = python();
    if !python.exists() {
        println!(
            "rapidfuzz baseline skipped: no Python at {} (set {PYTHON_ENV})",
            python.display()
        );
        return Ok(None);
    }
    let choices_path = dir.join("choices.txt");
    let queries_path = dir.join("queries.txt");
    let script_path = dir.join("rapidfuzz_baseline.py");
    let mut choices = std::io::BufWriter::new(std::fs::File::create(&choices_path)?);
    for (index, alert) in alerts.iter().enumerate() {
        if index > 0 {
            choices.write_all(b"\n")?;
        }
        write!(
            choices,
            "{} {}",
            to_mrz_alphabet(&alert.primary_identifier),
            to_mrz_alphabet(&alert.secondary_identifier)
        )?;
    }
    choices.flush()?;
    let lines: Vec<String> = queries
        .iter()
        .take(BASELINE_QUERIES)
        .map(|q| format!("{} {}", q.primary_identifier, q.secondary_identifier))
        .collect();
    std::fs::write(&queries_path, lines.join("\n"))?;
    std::fs::write(&script_path, RAPIDFUZZ_SCRIPT)?;
    let output = Command::new(&python)
        .arg(&script_path)
        .arg(&choices_path)
        .arg(&queries_path)
        .output()
        .context("running the rapidfuzz baseline")?;
    if !output.status.success() {
        println!(
            "rapidfuzz baseline failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let last = text.lines().last().unwrap_or_default();
    Ok(Some(serde_json::from_str(last)?))
}

/// Screening through the gRPC API against `entries` alerts: latency, and recall of the index
/// against an exhaustive scan with the same scoring.
pub async fn watchlist(entries: usize, queries: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    println!(
        "watchlist benchmark: {entries} alerts, {queries} travellers, data in {}",
        dir.path().display()
    );
    let store = open_store(dir.path()).await?;
    let started = Instant::now();
    let alerts = seed_watchlist(&store, entries, 24).await?;
    println!(
        "  alerts written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let service = RunningIdentity::start(dir.path()).await?;
    println!(
        "  service started and indexed in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Half the travellers are variants of an alert, half are on no list.
    let mut generator = Generator::new(7);
    let mut travellers = Vec::with_capacity(queries);
    let mut sources = Vec::with_capacity(queries);
    for index in 0..queries + WARMUP_QUERIES {
        if index % 2 == 0 && !alerts.is_empty() {
            let alert = &alerts[generator.rng.usize(..alerts.len())];
            let (person, kind) = generator.variant(alert);
            travellers.push(person);
            sources.push(Some((alert.alert_id.clone(), kind)));
        } else {
            travellers.push(generator.stranger());
            sources.push(None);
        }
    }
    let mut client = service.client.clone();
    let mut latencies = Vec::with_capacity(queries);
    let mut answers = Vec::with_capacity(queries);
    let progress = bar((queries + WARMUP_QUERIES) as u64, "screening");
    for (index, person) in travellers.iter().enumerate() {
        let request = pb::ScreenTravellerRequest {
            person: Some(person.clone()),
        };
        let start = Instant::now();
        let response = client.screen_traveller(request).await?.into_inner();
        let elapsed = start.elapsed().as_secs_f64() * 1000.0;
        if index >= WARMUP_QUERIES {
            latencies.push(elapsed);
            answers.push(response.hits);
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    service.stop().await?;

    // The reference: every alert scored for every traveller.
    let reference =
        WatchlistRegister::load(&store, crate::match_rules(&Config::default().identity)).await?;
    let mut expected_total = 0usize;
    let mut found_total = 0usize;
    let mut labelled = 0usize;
    let mut labelled_found = 0usize;
    let mut by_kind: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    let scan_progress = bar(queries as u64, "exhaustive scan for recall");
    for ((person, source), hits) in travellers
        .iter()
        .zip(&sources)
        .skip(WARMUP_QUERIES)
        .zip(&answers)
    {
        let screened = crate::api::person_for_screening(person);
        let expected: HashSet<String> = reference
            .scan(&screened)
            .into_iter()
            .map(|h| h.alert_id)
            .collect();
        let found: HashSet<&str> = hits.iter().map(|h| h.alert_id.as_str()).collect();
        expected_total += expected.len();
        found_total += expected
            .iter()
            .filter(|id| found.contains(id.as_str()))
            .count();
        if let Some((alert_id, kind)) = source {
            labelled += 1;
            let hit = found.contains(alert_id.as_str());
            labelled_found += usize::from(hit);
            let entry = by_kind.entry(kind).or_default();
            entry.0 += 1;
            entry.1 += usize::from(hit);
        }
        scan_progress.inc(1);
    }
    scan_progress.finish_and_clear();
    // The same screening in process, without gRPC, to tell the index's time from transport's.
    let in_process = sorted(
        travellers
            .iter()
            .skip(WARMUP_QUERIES)
            .map(|person| {
                let screened = crate::api::person_for_screening(person);
                let start = Instant::now();
                reference.screen(&screened);
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    );
    let recall = if expected_total == 0 {
        1.0
    } else {
        found_total as f64 / expected_total as f64
    };
    let latencies = sorted(latencies);
    let (p50, p99) = (percentile(&latencies, 50), percentile(&latencies, 99));

    let baseline = rapidfuzz_baseline(dir.path(), &alerts, &travellers[WARMUP_QUERIES..])?;
    let baseline_p50 = baseline.as_ref().and_then(|b| b["p50_ms"].as_f64());
    let ratio = baseline_p50.map(|b| b / p50);

    println!(
        "  ScreenTraveller over gRPC: p50 {p50:.3} ms, p99 {p99:.3} ms ({queries} travellers)"
    );
    println!(
        "  recall against an exhaustive scan: {recall:.4} ({found_total} of {expected_total} hits)"
    );
    println!("  labelled variants found: {labelled_found} of {labelled}");
    for (kind, (total, found)) in &by_kind {
        println!("    {kind:<22} {found} of {total}");
    }
    match (&baseline, ratio) {
        (Some(baseline), Some(ratio)) => println!(
            "  rapidfuzz process.extract (Jaro-Winkler, whole list): p50 {:.1} ms, p99 {:.1} ms over {} queries; bordermesh is {ratio:.0}x faster at p50",
            baseline["p50_ms"].as_f64().unwrap_or(f64::NAN),
            baseline["p99_ms"].as_f64().unwrap_or(f64::NAN),
            baseline["queries"]
        ),
        _ => println!("  rapidfuzz baseline: not measured"),
    }
    println!(
        "{}",
        json!({
            "entries": entries,
            "queries": queries,
            "p50_ms": p50,
            "p99_ms": p99,
            "in_process_p50_ms": percentile(&in_process, 50),
            "in_process_p99_ms": percentile(&in_process, 99),
            "recall": recall,
            "labelled_recall": if labelled == 0 { 1.0 } else { labelled_found as f64 / labelled as f64 },
            "rapidfuzz_p50_ms": baseline_p50,
            "rapidfuzz_p99_ms": baseline.as_ref().and_then(|b| b["p99_ms"].as_f64()),
            "rapidfuzz_queries": baseline.as_ref().and_then(|b| b["queries"].as_u64()),
            "rapidfuzz_ratio_p50": ratio,
        })
    );
    Ok(())
}

/// Generates an SLTD-like CSV of `entries` reports, imports it through the bulk import path,
/// loads the filter the service loads, and measures memory and lookups.
pub async fn sltd(entries: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    println!(
        "sltd benchmark: {entries} reported documents, data in {}",
        dir.path().display()
    );
    let csv_path = dir.path().join("sltd.csv");
    let mut generator = Generator::new(11);
    let states = NATIONALITIES;
    let number = |rng: &mut fastrand::Rng| -> String {
        (0..9)
            .map(|i| {
                if i < 2 {
                    char::from(b'A' + rng.u8(..26))
                } else {
                    char::from(b'0' + rng.u8(..10))
                }
            })
            .collect()
    };
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&csv_path)?);
        writeln!(
            file,
            "issuing_state,document_code,document_number,status,source,reported_on"
        )?;
        let progress = bar(entries as u64, "writing CSV");
        for index in 0..entries {
            let state = states[index % states.len()];
            let status = ["LOST", "STOLEN", "REVOKED"][index % 3];
            writeln!(
                file,
                "{state},P,{},{status},SLTD,2024-05-01",
                number(&mut generator.rng)
            )?;
            if index % 100_000 == 0 {
                progress.set_position(index as u64);
            }
        }
        progress.finish_and_clear();
        file.flush()?;
    }
    let store = open_store(dir.path()).await?;
    let started = Instant::now();
    let summary = import::import_documents(&store, &csv_path, true).await?;
    println!(
        "  imported {} reports ({} rejected) in {:.1} s",
        summary.imported,
        summary.rejected,
        started.elapsed().as_secs_f64()
    );
    std::fs::remove_file(&csv_path)?;

    let before = resident_bytes()?;
    let started = Instant::now();
    let register = DocumentRegister::load(store.clone()).await?;
    let load_seconds = started.elapsed().as_secs_f64();
    let after = resident_bytes()?;
    let records = register.len();
    let bytes_per_entry = after.saturating_sub(before) as f64 / records.max(1) as f64;
    println!(
        "  filter loaded in {load_seconds:.1} s: {records} records, resident memory +{:.1} MiB = {bytes_per_entry:.2} bytes a record",
        after.saturating_sub(before) as f64 / (1 << 20) as f64
    );

    // Documents that were never reported (a different series), and some that were.
    let probes = 200_000;
    let mut rng = fastrand::Rng::with_seed(99);
    let misses: Vec<DocumentKey> = (0..probes)
        .map(|i| {
            DocumentKey::new(
                states[i % states.len()],
                "P",
                &format!("ZZ{:07}", rng.u32(..10_000_000)),
            )
        })
        .collect();
    let mut miss_ns = Vec::with_capacity(probes);
    let mut false_positives = 0usize;
    for key in &misses {
        let start = Instant::now();
        let found = register.lookup(key).await?;
        miss_ns.push(start.elapsed().as_nanos() as f64);
        debug_assert!(found.is_none());
        if register.may_be_reported(key) {
            false_positives += 1;
        }
    }
    // The same seed as the CSV replays the same document numbers.
    let mut hit_rng = fastrand::Rng::with_seed(11);
    let hit_probes = 2_000.min(entries);
    let mut hit_ns = Vec::with_capacity(hit_probes);
    for index in 0..hit_probes {
        let key = DocumentKey::new(states[index % states.len()], "P", &number(&mut hit_rng));
        let start = Instant::now();
        let found = register.lookup(&key).await?;
        hit_ns.push(start.elapsed().as_nanos() as f64);
        anyhow::ensure!(found.is_some(), "a reported document was not found");
    }
    let miss_ns = sorted(miss_ns);
    let hit_ns = sorted(hit_ns);
    println!(
        "  miss (filter only): p50 {:.0} ns, p99 {:.0} ns over {probes}; {false_positives} false positives went on to the store",
        percentile(&miss_ns, 50),
        percentile(&miss_ns, 99)
    );
    println!(
        "  hit (filter, then the exact store): p50 {:.0} ns, p99 {:.0} ns over {hit_probes}",
        percentile(&hit_ns, 50),
        percentile(&hit_ns, 99)
    );
    println!(
        "{}",
        json!({
            "entries": records,
            "bytes_per_entry": bytes_per_entry,
            "miss_ns_p50": percentile(&miss_ns, 50),
            "miss_ns_p99": percentile(&miss_ns, 99),
            "hit_ns_p50": percentile(&hit_ns, 50),
            "hit_ns_p99": percentile(&hit_ns, 99),
            "false_positives": false_positives,
            "probes": probes,
        })
    );
    Ok(())
}

/// Advance passenger information: whole manifests of `travellers` screened in one call against
/// `watchlist_entries` alerts and `documents` reported documents.
pub async fn manifest(
    travellers: usize,
    watchlist_entries: usize,
    documents: usize,
) -> anyhow::Result<()> {
    // Enough manifests that the 99th percentile is not simply the slowest one.
    const MANIFESTS: usize = 300;
    let dir = tempfile::tempdir()?;
    println!(
        "manifest benchmark: {MANIFESTS} manifests of {travellers} travellers against {watchlist_entries} alerts and {documents} reported documents"
    );
    let store = open_store(dir.path()).await?;
    let alerts = seed_watchlist(&store, watchlist_entries, 31).await?;
    let mut generator = Generator::new(5);
    let mut reported = Vec::with_capacity(documents);
    for index in 0..documents {
        let key = DocumentKey::new(
            NATIONALITIES[index % NATIONALITIES.len()],
            "P",
            &format!("RP{index:07}"),
        );
        let report = pb::DocumentReport {
            issuing_state: key.issuing_state.clone(),
            document_code: "P".into(),
            document_number: key.document_number.clone(),
            status: pb::DocumentReportStatus::Stolen.into(),
            source: pb::DocumentReportSource::Sltd.into(),
            reported_on: None,
        };
        reported.push((key, report));
    }
    for chunk in reported.chunks(IMPORT_BATCH * 20) {
        let mut tx = store.db().begin().await?;
        for batch in chunk.chunks(IMPORT_BATCH) {
            store.upsert_reports(&mut tx, batch).await?;
        }
        tx.commit().await?;
    }
    let service = RunningIdentity::start(dir.path()).await?;
    let mut client = service.client.clone();
    let mut latencies = Vec::with_capacity(MANIFESTS);
    let mut flagged = 0usize;
    let progress = bar((MANIFESTS + 5) as u64, "screening manifests");
    for round in 0..MANIFESTS + 5 {
        let passengers: Vec<pb::PersonData> = (0..travellers)
            .map(|index| {
                let mut person = if index % 50 == 0 && !alerts.is_empty() {
                    let alert = &alerts[generator.rng.usize(..alerts.len())];
                    generator.variant(alert).0
                } else {
                    generator.stranger()
                };
                person.document_issuing_state = NATIONALITIES[index % NATIONALITIES.len()].into();
                person.document_code = "P".into();
                person.document_number = if index % 100 == 1 && documents > 0 {
                    reported[generator.rng.usize(..documents)]
                        .0
                        .document_number
                        .clone()
                } else {
                    format!("AB{:07}", generator.rng.u32(..10_000_000))
                };
                person
            })
            .collect();
        let request = pb::ScreenManifestRequest {
            transport_reference: format!("JU{round:04}"),
            passengers,
        };
        let start = Instant::now();
        let response = client.screen_manifest(request).await?.into_inner();
        let elapsed = start.elapsed().as_secs_f64() * 1000.0;
        if round >= 5 {
            latencies.push(elapsed);
            flagged += response.flagged.len();
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    service.stop().await?;
    let latencies = sorted(latencies);
    let (p50, p99, max) = (
        percentile(&latencies, 50),
        percentile(&latencies, 99),
        percentile(&latencies, 100),
    );
    println!(
        "  ScreenManifest over gRPC: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms per manifest of {travellers}; {flagged} passengers flagged in {MANIFESTS} manifests"
    );
    println!(
        "{}",
        json!({
            "travellers": travellers,
            "p50_ms": p50,
            "p99_ms": p99,
            "max_ms": max,
            "manifests": MANIFESTS,
            "watchlist_entries": watchlist_entries,
            "documents": documents,
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&hundred, 50), 50.0);
        assert_eq!(percentile(&hundred, 99), 99.0);
        assert_eq!(percentile(&hundred, 100), 100.0);
        assert_eq!(percentile(&[7.0], 99), 7.0);
        assert!(percentile(&[], 50).is_nan());
    }
    use crate::{
        domain::watchlist::{MatchRules, Watchlist},
        registers::alert_from_entry,
    };

    #[test]
    fn the_index_recalls_what_a_full_scan_finds_on_generated_variants() {
        let mut generator = Generator::new(3);
        let mut watchlist = Watchlist::new(MatchRules {
            threshold: 0.88,
            birth_date_tolerance_days: 2,
        });
        let alerts: Vec<pb::WatchlistEntry> = (0..5_000).map(|i| generator.alert(i)).collect();
        for entry in &alerts {
            watchlist.insert(alert_from_entry(entry).unwrap());
        }
        let (mut expected, mut found, mut labelled_found) = (0, 0, 0);
        let mut missed = Vec::new();
        let queries = 300;
        for index in 0..queries {
            // Half the travellers are variants of an alert, half are on no list.
            let alert = &alerts[generator.rng.usize(..alerts.len())];
            let person = if index % 2 == 0 {
                generator.variant(alert).0
            } else {
                generator.stranger()
            };
            let person = crate::api::person_for_screening(&person);
            let scanned: HashSet<String> = watchlist
                .scan(&person)
                .into_iter()
                .map(|h| h.alert_id)
                .collect();
            let screened: HashSet<String> = watchlist
                .screen(&person)
                .into_iter()
                .map(|h| h.alert_id)
                .collect();
            missed.extend(scanned.difference(&screened).map(|id| {
                format!(
                    "{} {} for {id}",
                    person.primary_identifier, person.secondary_identifier
                )
            }));
            expected += scanned.len();
            found += scanned.intersection(&screened).count();
            if index % 2 == 0 {
                labelled_found += usize::from(screened.contains(&alert.alert_id));
            }
        }
        let recall = found as f64 / expected as f64;
        assert!(recall >= 0.99, "recall {recall}, missed {missed:?}");
        assert!(
            labelled_found * 100 >= (queries / 2) * 90,
            "{labelled_found} of {} variants found",
            queries / 2
        );
    }

    #[test]
    fn every_kind_of_variant_the_scan_finds_the_index_finds() {
        let mut generator = Generator::new(17);
        let alerts: Vec<pb::WatchlistEntry> = (0..3_000).map(|i| generator.alert(i)).collect();
        let watchlist = Watchlist::from_alerts(
            MatchRules {
                threshold: 0.88,
                birth_date_tolerance_days: 0,
            },
            alerts.iter().filter_map(alert_from_entry).collect(),
        );
        let mut kinds: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
        for _ in 0..600 {
            let alert = &alerts[generator.rng.usize(..alerts.len())];
            let (variant, kind) = generator.variant(alert);
            let person = crate::api::person_for_screening(&variant);
            let found = |hits: Vec<crate::domain::watchlist::Hit>| {
                hits.iter().any(|hit| hit.alert_id == alert.alert_id)
            };
            let (scanned, screened) = (
                found(watchlist.scan(&person)),
                found(watchlist.screen(&person)),
            );
            assert!(!scanned || screened, "{kind}: {variant:?} for {alert:?}");
            let entry = kinds.entry(kind).or_default();
            entry.0 += 1;
            entry.1 += usize::from(screened);
        }
        for kind in [
            "same spelling",
            "typo",
            "dropped letter",
            "swapped names",
            "other transliteration",
        ] {
            let (total, found) = kinds.get(kind).copied().unwrap_or_default();
            assert!(
                total > 0 && found * 100 >= total * 90,
                "{kind}: {found} of {total}"
            );
        }
    }

    #[test]
    fn other_transliterations_differ_from_icao_where_habits_differ() {
        assert_eq!(other_transliteration("Müller"), "MULLER");
        assert_eq!(other_transliteration("Юрий"), "YURIY");
        assert_eq!(other_transliteration("Харитонов"), "HARITONOV");
    }
}
