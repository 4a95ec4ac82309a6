//! The in-memory halves of the registers the border checks consult at national scale: the
//! filter in front of the lost, stolen and revoked documents, and the watchlist's index. The
//! database stays the record; these are rebuilt from it at start.

use std::sync::{
    Arc, RwLock,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use bordermesh_proto::identity::v1::{self as pb, DocumentReport};

use crate::{
    domain::{
        mrz::Sex,
        sltd::{DocumentFilter, DocumentKey, ReportStatus},
        transliteration::to_mrz_alphabet,
        watchlist::{Alert, BirthDate, Hit, MatchRules, Person, Watchlist},
    },
    store::Store,
};

/// Lost, stolen and revoked documents: a binary fuse filter answers "certainly not reported"
/// from memory; a possible hit is confirmed in the store.
pub struct DocumentRegister {
    store: Store,
    filter: RwLock<DocumentFilter>,
    rebuilding: AtomicBool,
}

impl DocumentRegister {
    /// Builds the filter from every report in the store.
    pub async fn load(store: Store) -> anyhow::Result<Arc<Self>> {
        let filter = build_filter(&store).await?;
        Ok(Arc::new(Self {
            store,
            filter: RwLock::new(filter),
            rebuilding: AtomicBool::new(false),
        }))
    }

    /// Whether the filter lets this document through to the exact store (no false negatives).
    pub fn may_be_reported(&self, key: &DocumentKey) -> bool {
        self.filter
            .read()
            .is_ok_and(|filter| filter.may_contain(key.fingerprint()))
    }

    /// The report in force, confirmed exactly; most documents stop at the filter.
    pub async fn lookup(&self, key: &DocumentKey) -> anyhow::Result<Option<DocumentReport>> {
        if !self.may_be_reported(key) {
            return Ok(None);
        }
        self.store.find_report(key).await
    }

    /// Makes a committed report visible to lookups at once, and rebuilds the filter in the
    /// background when the exact set of additions has grown too large.
    pub fn added(self: &Arc<Self>, key: &DocumentKey) {
        let needs_rebuild = match self.filter.write() {
            Ok(mut filter) => {
                filter.add(key.fingerprint());
                filter.needs_rebuild()
            }
            Err(_) => false,
        };
        if needs_rebuild && !self.rebuilding.swap(true, Ordering::AcqRel) {
            let register = Arc::clone(self);
            tokio::spawn(async move {
                if let Err(error) = register.rebuild().await {
                    tracing::error!(error = %error, "rebuilding the document filter failed");
                }
                register.rebuilding.store(false, Ordering::Release);
            });
        }
    }

    /// Rebuilds the filter from the store. Additions seen before the rebuild started are in
    /// the store it reads; later ones are carried over into the new filter's exact set.
    pub async fn rebuild(&self) -> anyhow::Result<()> {
        let seen = self
            .filter
            .read()
            .map_err(|_| anyhow::anyhow!("document filter lock poisoned"))?
            .added()
            .clone();
        let mut rebuilt = build_filter(&self.store).await?;
        let mut filter = self
            .filter
            .write()
            .map_err(|_| anyhow::anyhow!("document filter lock poisoned"))?;
        rebuilt.carry_over(&filter, &seen);
        *filter = rebuilt;
        tracing::info!(records = filter.len(), "document filter rebuilt");
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.filter.read().map_or(0, |filter| filter.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

async fn build_filter(store: &Store) -> anyhow::Result<DocumentFilter> {
    let fingerprints = store.report_fingerprints().await?;
    tokio::task::spawn_blocking(move || DocumentFilter::build(fingerprints))
        .await?
        .map_err(|reason| anyhow::anyhow!("building the document filter: {reason}"))
}

pub fn report_status(report: &DocumentReport) -> ReportStatus {
    match report.status() {
        pb::DocumentReportStatus::Lost => ReportStatus::Lost,
        pb::DocumentReportStatus::Revoked => ReportStatus::Revoked,
        // A report of unknown kind is treated as the gravest.
        pb::DocumentReportStatus::Stolen | pb::DocumentReportStatus::Unspecified => {
            ReportStatus::Stolen
        }
    }
}

/// The watchlist's index, shared by the screening calls.
pub struct WatchlistRegister {
    watchlist: RwLock<Watchlist>,
}

impl WatchlistRegister {
    /// Indexes every alert in the store.
    pub async fn load(store: &Store, rules: MatchRules) -> anyhow::Result<Arc<Self>> {
        let entries = store.all_alerts().await?;
        let watchlist = tokio::task::spawn_blocking(move || {
            Watchlist::from_alerts(rules, entries.iter().filter_map(alert_from_entry).collect())
        })
        .await?;
        Ok(Arc::new(Self {
            watchlist: RwLock::new(watchlist),
        }))
    }

    pub fn insert(&self, alert: Alert) {
        if let Ok(mut watchlist) = self.watchlist.write() {
            watchlist.insert(alert);
        }
    }

    pub fn screen(&self, person: &Person) -> Vec<Hit> {
        self.watchlist
            .read()
            .map(|watchlist| watchlist.screen(person))
            .unwrap_or_default()
    }

    /// Every alert scored: the reference a benchmark measures the index's recall against.
    pub fn scan(&self, person: &Person) -> Vec<Hit> {
        self.watchlist
            .read()
            .map(|watchlist| watchlist.scan(person))
            .unwrap_or_default()
    }

    /// Screens many persons under one read lock, spread over the machine's cores. Workers take
    /// the next person from a shared counter rather than a fixed share, so one slow screening
    /// (a common name with many candidates) does not leave the other cores idle. Persons are
    /// taken in the order of their given names, so that those who share one read the same
    /// stretch of the list (alerts are filed by given name) while it is still in cache. None
    /// if a worker failed, rather than answers that are missing some persons.
    pub fn screen_all(&self, persons: &[Person]) -> Option<Vec<Vec<Hit>>> {
        let watchlist = self.watchlist.read().ok()?;
        let mut order: Vec<usize> = (0..persons.len()).collect();
        order.sort_by_cached_key(|&index| to_mrz_alphabet(&persons[index].secondary_identifier));
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(persons.len().max(1));
        let next = AtomicUsize::new(0);
        let mut screened: Vec<(usize, Vec<Hit>)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let (watchlist, next, order) = (&*watchlist, &next, &order);
                    scope.spawn(move || {
                        let mut done = Vec::new();
                        loop {
                            let turn = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&index) = order.get(turn) else {
                                return done;
                            };
                            let Some(person) = persons.get(index) else {
                                return done;
                            };
                            done.push((index, watchlist.screen(person)));
                        }
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(persons.len());
            for worker in workers {
                all.extend(worker.join().ok()?);
            }
            Some(all)
        })?;
        screened.sort_unstable_by_key(|(index, _)| *index);
        (screened.len() == persons.len())
            .then(|| screened.into_iter().map(|(_, hits)| hits).collect())
    }

    pub fn len(&self) -> usize {
        self.watchlist.read().map_or(0, |watchlist| watchlist.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An alert as stored, read without judgement: the API validated it when it was added.
pub fn alert_from_entry(entry: &pb::WatchlistEntry) -> Option<Alert> {
    let birth_date = match entry.birth_date_precision() {
        pb::BirthDatePrecision::Exact => BirthDate::Exact(naive_date(entry.birth_date.as_ref())?),
        pb::BirthDatePrecision::Year => BirthDate::Year(entry.birth_date.as_ref()?.year),
        pb::BirthDatePrecision::Unknown | pb::BirthDatePrecision::Unspecified => BirthDate::Unknown,
    };
    Some(Alert {
        alert_id: entry.alert_id.clone(),
        primary_identifier: entry.primary_identifier.clone(),
        secondary_identifier: entry.secondary_identifier.clone(),
        birth_date,
        nationality: (!entry.nationality.is_empty()).then(|| entry.nationality.clone()),
        sex: sex_code(&entry.sex),
        reason: entry.reason.clone(),
    })
}

pub fn naive_date(date: Option<&bordermesh_proto::common::v1::Date>) -> Option<chrono::NaiveDate> {
    let date = date?;
    chrono::NaiveDate::from_ymd_opt(
        date.year,
        u32::try_from(date.month).ok()?,
        u32::try_from(date.day).ok()?,
    )
}

pub fn sex_code(code: &str) -> Option<Sex> {
    match code {
        "F" => Some(Sex::Female),
        "M" => Some(Sex::Male),
        "X" => Some(Sex::Unspecified),
        _ => None,
    }
}
