//! Screening of persons against alerts (wanted persons, refusals of entry such as SIS Art. 24):
//! names compared after ICAO 9303 Part 3 transliteration, date of birth, nationality and sex.
//!
//! The index is an inverted index of blocking keys. A date of birth that contradicts the
//! alert's excludes a hit (below), so alerts are first blocked by date of birth: an alert with
//! an exact date is filed under that day, where a few dozen alerts share a key even in a list
//! of millions; an alert with only a year, or none, is filed under the year (or "unknown")
//! combined with pairs of name-word keys (prefix, suffix, consonant skeleton of two folded
//! words); and every alert is also filed by name alone, for travellers whose own date of birth
//! is unknown. A query looks up only the keys its own date and words produce, then scores those
//! candidates with Jaro-Winkler, except those whose name sketch (letters and prefix of each
//! word) already bounds their score below the threshold. A variant that changes one word is
//! found through the other word and whichever of the changed word's keys survived; an alert
//! with an exact date is always a candidate on that date.

use std::{
    cell::RefCell,
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
};

use chrono::{Datelike, Days, NaiveDate};

use super::{
    jaro_winkler::{LetterSketch, jaro_winkler, jaro_winkler_bound, reciprocal, sketch_bound},
    mrz::Sex,
    transliteration::{fold, to_mrz_alphabet},
};

/// How much of a date of birth an alert knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BirthDate {
    Exact(NaiveDate),
    Year(i32),
    Unknown,
}

/// A person alert as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub alert_id: String,
    pub primary_identifier: String,
    pub secondary_identifier: String,
    pub birth_date: BirthDate,
    pub nationality: Option<String>,
    pub sex: Option<Sex>,
    pub reason: String,
}

/// The person screened, as a document or a passenger list gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub primary_identifier: String,
    pub secondary_identifier: String,
    pub birth_date: Option<NaiveDate>,
    pub nationality: Option<String>,
    pub sex: Option<Sex>,
}

/// Configuration: the threshold and how far an exact date of birth may be off.
#[derive(Debug, Clone, Copy)]
pub struct MatchRules {
    pub threshold: f64,
    pub birth_date_tolerance_days: u32,
}

/// How one field compared.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMatch {
    pub field: &'static str,
    pub score: f64,
    pub explanation: String,
}

/// An alert the person matched, with the reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub alert_id: String,
    pub reason: String,
    pub score: f64,
    pub fields: Vec<FieldMatch>,
}

/// Weights of the fields in the score; a field unknown on either side is left out and the
/// others share its weight. The name dominates: the other fields only confirm it.
const NAME_WEIGHT: f64 = 0.70;
const BIRTH_WEIGHT: f64 = 0.20;
const NATIONALITY_WEIGHT: f64 = 0.05;
const SEX_WEIGHT: f64 = 0.05;
/// An alert that knows only the year matches that year less strongly than an exact date.
const YEAR_ONLY_SCORE: f64 = 0.9;

/// A name as it is written in a zone (ICAO 9303 Part 3 transliteration), for explanations.
fn written_name(primary: &str, secondary: &str) -> String {
    to_mrz_alphabet(&format!("{primary} {secondary}"))
}

/// Folded names up to this many bytes (nearly all) are kept inside their alert's record.
const INLINE_NAME: usize = 30;

/// A folded name's text: inline when short, so that a candidate's record is one cache line.
#[derive(Debug, Clone)]
enum Text {
    Inline { len: u8, bytes: [u8; INLINE_NAME] },
    Boxed(Box<str>),
}

impl Text {
    fn new(text: String) -> Self {
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= INLINE_NAME => {
                let mut bytes = [0; INLINE_NAME];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                Self::Inline { len, bytes }
            }
            _ => Self::Boxed(text.into_boxed_str()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Boxed(text) => text.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // The bytes were copied from a whole string, so they are valid UTF-8.
            Self::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Self::Boxed(text) => text,
        }
    }
}

/// A name ready for comparison: its folded words joined by single spaces, and how many
/// letters they have.
#[derive(Debug, Clone)]
struct Folded {
    text: Text,
    letters: u32,
}

impl Folded {
    fn new(written: &str) -> Self {
        let words: Vec<String> = written
            .split(' ')
            .filter(|word| !word.is_empty())
            .map(fold)
            .collect();
        let letters: usize = words.iter().map(String::len).sum();
        Self {
            letters: u32::try_from(letters).unwrap_or(u32::MAX),
            text: Text::new(words.join(" ")),
        }
    }

    /// The words as scoring reads them: bytes of A-Z.
    fn words(&self) -> Words<'_> {
        Words {
            rest: self.text.as_bytes(),
        }
    }

    /// The words as blocking keys are made of them.
    fn key_words(&self) -> impl Iterator<Item = &str> {
        self.text
            .as_str()
            .split(' ')
            .filter(|word| !word.is_empty())
    }
}

/// The words of a folded name: never empty, separated by single spaces, so a byte scan finds
/// each end (cheaper than a general split on names of a few short words).
#[derive(Clone)]
struct Words<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let end = self
            .rest
            .iter()
            .position(|byte| *byte == b' ')
            .unwrap_or(self.rest.len());
        let word = &self.rest[..end];
        self.rest = self.rest.get(end + 1..).unwrap_or_default();
        Some(word)
    }
}

/// The screened person's name, written and folded once per screening.
struct QueryName {
    written: String,
    folded: Folded,
}

impl QueryName {
    fn new(primary: &str, secondary: &str) -> Self {
        let written = written_name(primary, secondary);
        let folded = Folded::new(&written);
        Self { written, folded }
    }
}

/// A word less similar than this to every word of the other name counts as not matched at
/// all: a shared surname alone must not make two different people look alike.
const WORD_FLOOR: f64 = 0.75;
/// Weight of the shorter name's words finding theirs in the longer name; the rest goes to the
/// longer name's words, so a missing middle name costs a little, not everything.
const SHORTER_NAME_WEIGHT: f64 = 0.75;

/// Jaro-Winkler of two words, scaled down when one is less than half as long as the other:
/// Jaro finds a short word's letters, in order, inside almost any long one (RAL in BRIZALESCU).
fn word_similarity(a: &[u8], b: &[u8]) -> f64 {
    let (short, long) = (a.len().min(b.len()), a.len().max(b.len()));
    let similarity = jaro_winkler(a, b);
    if short * 2 < long {
        similarity * (2 * short) as f64 / long as f64
    } else {
        similarity
    }
}

/// Added to a bound before it rejects, so that summing in another order can never round it
/// below the score it bounds.
const BOUND_SLACK: f64 = 1e-9;

/// Each word's best Jaro-Winkler against the other name's words, weighted by word length:
/// insensitive to the order of words (a swapped surname and given name still match). None as
/// soon as `reaching` rejects a bound: the words still to compare add at most their length.
fn directed_similarity(
    from: Words<'_>,
    to: Words<'_>,
    from_letters: u32,
    reaching: impl Fn(f64) -> bool,
) -> Option<f64> {
    let letters = f64::from(from_letters);
    let mut total = 0.0;
    let mut weight = 0.0;
    for word in from {
        // A pair whose bound is below the floor could not count, whatever its exact score.
        let best = to
            .clone()
            .map(|other| {
                if jaro_winkler_bound(word, other) + BOUND_SLACK < WORD_FLOOR {
                    0.0
                } else {
                    word_similarity(word, other)
                }
            })
            .fold(0.0, f64::max);
        if best >= WORD_FLOOR {
            total += best * word.len() as f64;
        }
        weight += word.len() as f64;
        if weight < letters && !reaching((total + (letters - weight)) / letters + BOUND_SLACK) {
            return None;
        }
    }
    Some(if weight == 0.0 { 0.0 } else { total / weight })
}

/// The name similarity, or None as soon as it is certain to stay below what `enough` accepts:
/// the shorter name's words are compared first, and the longer name's cannot add more than
/// their weight. Bounds only ever overestimate (scores are at most 1), so a name rejected
/// early could not have been accepted.
fn name_similarity_reaching(a: &Folded, b: &Folded, enough: impl Fn(f64) -> bool) -> Option<f64> {
    let (shorter, longer) = if a.letters <= b.letters {
        (a, b)
    } else {
        (b, a)
    };
    let rest = 1.0 - SHORTER_NAME_WEIGHT;
    let forward = directed_similarity(shorter.words(), longer.words(), shorter.letters, |d| {
        enough(SHORTER_NAME_WEIGHT * d + rest * 1.0)
    })?;
    if !enough(SHORTER_NAME_WEIGHT * forward + rest * 1.0) {
        return None;
    }
    let backward = directed_similarity(longer.words(), shorter.words(), longer.letters, |d| {
        enough(SHORTER_NAME_WEIGHT * forward + rest * d)
    })?;
    Some(SHORTER_NAME_WEIGHT * forward + rest * backward)
}

/// Words of a name that a sketch holds, so that an alert's sketch is 32 bytes; a name with
/// more is always scored.
const SKETCHED_WORDS: usize = 3;

/// A name reduced to its words' letter sketches. Kept apart from the alerts'
/// records, the sketches let a screening reject nearly all of its hundreds of candidates
/// (most share a key with the person, not their name) from a dense array, without reading a
/// record. Empty when the bound cannot speak for the name: a word that is not A-Z or is too
/// long, more words than a sketch holds, or none.
#[derive(Debug, Clone, Copy, Default)]
struct NameSketch([Option<LetterSketch>; SKETCHED_WORDS]);

impl NameSketch {
    fn new(name: &Folded) -> Self {
        let mut sketch = Self::default();
        let mut slots = sketch.0.iter_mut();
        for word in name.words() {
            match (slots.next(), LetterSketch::of(word)) {
                (Some(slot), Some(letters)) => *slot = Some(letters),
                _ => return Self::default(),
            }
        }
        sketch
    }

    fn words(&self) -> impl Iterator<Item = LetterSketch> + '_ {
        self.0.iter().map_while(|word| *word)
    }

    fn letters(&self) -> u32 {
        self.words().map(LetterSketch::length).sum()
    }

    /// The share of the name's letters that `bests` (each word's best bound) counts, as
    /// `directed_similarity` weighs words.
    fn counted_share(&self, bests: &[f64; SKETCHED_WORDS], letters: u32) -> f64 {
        let counted: f64 = self
            .words()
            .zip(bests)
            .map(|(word, &best)| {
                // Below the floor even at best, the word's score could not count.
                let best = if best + BOUND_SLACK < WORD_FLOOR {
                    0.0
                } else {
                    best
                };
                best * f64::from(word.length())
            })
            .sum();
        counted * reciprocal(letters)
    }
}

/// The person's name sketch, with its letters counted once for all candidates.
struct PersonSketch {
    name: NameSketch,
    letters: u32,
}

impl PersonSketch {
    fn new(name: &Folded) -> Self {
        let name = NameSketch::new(name);
        Self {
            letters: name.letters(),
            name,
        }
    }
}

/// What the filter in front of scoring reads of an alert: its name's sketch, and how much of
/// a date of birth it knows, which caps what the date can add to its score.
#[derive(Debug, Clone, Copy)]
struct AlertSketch {
    name: NameSketch,
    birth: BirthKnown,
}

/// How much of a date of birth an alert knows.
#[derive(Debug, Clone, Copy)]
enum BirthKnown {
    Exact,
    Year,
    Unknown,
}

impl From<BirthDate> for BirthKnown {
    fn from(birth: BirthDate) -> Self {
        match birth {
            BirthDate::Exact(_) => Self::Exact,
            BirthDate::Year(_) => Self::Year,
            BirthDate::Unknown => Self::Unknown,
        }
    }
}

/// The least name similarity with which an alert could still reach the threshold, for each
/// `BirthKnown`: the score with every other field at its best, nationality and sex equal and
/// the date as close as the alert's precision allows (left out when either side does not
/// know it), since a field left out or agreeing less only lowers the weighted mean.
#[derive(Debug, Clone, Copy)]
struct LeastNames {
    exact: f64,
    year: f64,
    unknown: f64,
}

impl LeastNames {
    fn new(threshold: f64, person_born: bool) -> Self {
        let least = |birth: Option<f64>| {
            let others = NATIONALITY_WEIGHT + SEX_WEIGHT;
            let (added, weights) = match birth {
                Some(score) => (others + score * BIRTH_WEIGHT, others + BIRTH_WEIGHT),
                None => (others, others),
            };
            (threshold * (NAME_WEIGHT + weights) - added) / NAME_WEIGHT - BOUND_SLACK
        };
        Self {
            exact: least(person_born.then_some(1.0)),
            year: least(person_born.then_some(YEAR_ONLY_SCORE)),
            unknown: least(None),
        }
    }

    fn of(&self, birth: BirthKnown) -> f64 {
        match birth {
            BirthKnown::Exact => self.exact,
            BirthKnown::Year => self.year,
            BirthKnown::Unknown => self.unknown,
        }
    }
}

/// An upper bound of `word_similarity` of a person's word and an alert's, from sketches.
fn word_similarity_bound(word: LetterSketch, other: LetterSketch) -> f64 {
    let (short, long) = (
        word.length().min(other.length()),
        word.length().max(other.length()),
    );
    let bound = sketch_bound(word, other);
    if short * 2 < long {
        bound * f64::from(2 * short) * reciprocal(long)
    } else {
        bound
    }
}

/// An upper bound of the name similarity of a person and an alert, None when a sketch is
/// empty: the sums of `name_similarity_reaching`, of each word's best bound instead of its
/// best score, so each word adds at least what its score would.
fn name_similarity_bound(person: &PersonSketch, alert: &NameSketch) -> Option<f64> {
    let alert_letters = alert.letters();
    if person.letters == 0 || alert_letters == 0 {
        return None;
    }
    let mut person_bests = [0.0; SKETCHED_WORDS];
    let mut alert_bests = [0.0; SKETCHED_WORDS];
    for (word, person_best) in person.name.words().zip(&mut person_bests) {
        for (other, alert_best) in alert.words().zip(&mut alert_bests) {
            let bound = word_similarity_bound(word, other);
            // Not f64::max: bounds are never NaN, and its NaN handling costs.
            if bound > *person_best {
                *person_best = bound;
            }
            if bound > *alert_best {
                *alert_best = bound;
            }
        }
    }
    let person_share = person.name.counted_share(&person_bests, person.letters);
    let alert_share = alert.counted_share(&alert_bests, alert_letters);
    let (shorter, longer) = if person.letters <= alert_letters {
        (person_share, alert_share)
    } else {
        (alert_share, person_share)
    };
    Some(SHORTER_NAME_WEIGHT * shorter + (1.0 - SHORTER_NAME_WEIGHT) * longer)
}

enum BirthComparison {
    /// Both dates known and irreconcilable: the alert is someone else.
    Contradicts,
    Unknown,
    /// The score, and the days apart (None when the alert knows only the year).
    Matches(f64, Option<u64>),
}

fn compare_birth(alert: BirthDate, person: Option<NaiveDate>, tolerance: u32) -> BirthComparison {
    let Some(person) = person else {
        return BirthComparison::Unknown;
    };
    match alert {
        BirthDate::Unknown => BirthComparison::Unknown,
        BirthDate::Year(year) if year == person.year() => {
            BirthComparison::Matches(YEAR_ONLY_SCORE, None)
        }
        BirthDate::Year(_) => BirthComparison::Contradicts,
        BirthDate::Exact(date) => {
            let difference = (date - person).num_days().unsigned_abs();
            if difference == 0 {
                BirthComparison::Matches(1.0, Some(0))
            } else if difference <= u64::from(tolerance) {
                let score = 1.0 - 0.5 * difference as f64 / (f64::from(tolerance) + 1.0);
                BirthComparison::Matches(score, Some(difference))
            } else {
                BirthComparison::Contradicts
            }
        }
    }
}

/// The score of a field that is equal or not.
fn agreement(equal: bool) -> f64 {
    if equal { 1.0 } else { 0.0 }
}

/// Why a date of birth matched, written only for a hit.
fn explain_birth(difference: Option<u64>, tolerance: u32) -> String {
    match difference {
        None => "year of birth only, equal".into(),
        Some(0) => "exact".into(),
        Some(days) => format!("{days} days apart, within the tolerance of {tolerance}"),
    }
}

/// What scoring reads of an alert, kept apart from the alert's texts so that each candidate
/// of a screening is one cache line (a screening reads hundreds, at random, from a list of
/// millions): the folded name, the date of birth, the nationality (interned) and the sex.
#[derive(Debug, Clone)]
#[repr(align(64))]
struct Screened {
    name: Folded,
    birth_date: BirthDate,
    nationality: Option<u32>,
    sex: Option<Sex>,
}

/// A person being screened, prepared once for all candidates.
struct Query<'p> {
    person: &'p Person,
    name: QueryName,
    nationality: Option<Option<u32>>,
}

/// Where to file an alert by its date of birth.
fn birth_bucket(birth: BirthDate) -> u64 {
    match birth {
        BirthDate::Exact(date) => date.num_days_from_ce() as u32 as u64,
        BirthDate::Year(year) => (1 << 40) | u64::from(year as u32),
        BirthDate::Unknown => 2 << 40,
    }
}

/// Filing under every date of birth at once, for persons whose date of birth is unknown.
const ANY_BIRTH: u64 = 3 << 40;

/// Words of a name that blocking keys are made of; later words (rare) only count in scoring.
const MAX_KEYED_WORDS: usize = 5;

/// Keys of a folded word. The first three (prefix, suffix, consonant skeleton) are strong:
/// a single typo, dropped letter or other transliteration rarely changes all three. The others
/// are weak, and only ever paired with a strong key of another word: the first and the last
/// letter, and, where `inner` asks, each run of three letters in the word, which a
/// near-namesake (MISTENKO and STENOV, HASAN and ASA) shares where prefix and suffix differ.
const STRONG_KEYS: usize = 3;

fn word_keys(word: &str, inner: bool) -> Vec<String> {
    let prefix_end = word.char_indices().nth(3).map_or(word.len(), |(i, _)| i);
    let suffix_start = word.len().saturating_sub(3);
    let skeleton: String = word
        .chars()
        .filter(|c| !matches!(c, 'A' | 'E' | 'I' | 'O' | 'U'))
        .take(4)
        .collect();
    let mut keys = vec![
        format!("P{}", &word[..prefix_end]),
        format!("S{}", &word[suffix_start..]),
        format!("K{skeleton}"),
        format!("F{}", &word[..word.len().min(1)]),
        format!("L{}", &word[word.len().saturating_sub(1)..]),
    ];
    if inner {
        // Folded words are A-Z, so byte offsets are letters.
        keys.extend(
            (0..word.len().saturating_sub(2))
                .filter_map(|start| word.get(start..start + 3))
                .map(|run| format!("T{run}")),
        );
    }
    keys
}

/// FNV-1a of a bucket and up to two word keys: one u64 per posting list.
fn posting_key(bucket: u64, first: &str, second: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bucket
        .to_le_bytes()
        .iter()
        .chain(first.as_bytes())
        .chain(std::iter::once(&b'|'))
        .chain(second.as_bytes())
    {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Posting keys are already FNV-1a hashes, so the index's map only spreads them over its
/// buckets instead of hashing them again with SipHash (a screening makes about a hundred
/// lookups). FNV-1a's low bits, which pick the bucket, mix poorly, hence the final multiply
/// and fold. Flooding is not a concern: the keys come from alerts the authorities file.
#[derive(Default)]
struct PostingKeyHasher(u64);

impl Hasher for PostingKeyHasher {
    fn finish(&self) -> u64 {
        let mixed = (self.0 ^ (self.0 >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        mixed ^ (mixed >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

type Postings = HashMap<u64, Vec<u32>, BuildHasherDefault<PostingKeyHasher>>;

thread_local! {
    /// One bit per alert, marking the candidates a screening has already gathered: cheaper
    /// than sorting every posting (a common given name brings the same alerts through each
    /// of its keys). Kept per thread so that screenings in parallel share nothing; cleared by
    /// the screening that set it, bit by bit, so it costs nothing to reuse.
    static GATHERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Keys of a name: for two words or more, every pair of a key of one word with a key of
/// another, at least one of them strong (in either order, so swapped names meet), which stays
/// selective where a common given name alone would not; for a single word, its strong keys.
/// Inner runs are keyed under a year of birth or none (the alerts a date cannot block), not
/// under "any date", where they would cost memory for every alert.
fn name_keys(name: &Folded, bucket: u64, inner: bool, out: &mut Vec<u64>) {
    let keys: Vec<Vec<String>> = name
        .key_words()
        .take(MAX_KEYED_WORDS)
        .map(|word| word_keys(word, inner))
        .collect();
    if let [only] = keys.as_slice() {
        out.extend(
            only[..STRONG_KEYS]
                .iter()
                .map(|key| posting_key(bucket, key, "")),
        );
        return;
    }
    for (index, first) in keys.iter().enumerate() {
        for second in &keys[index + 1..] {
            for (i, a) in first.iter().enumerate() {
                for (j, b) in second.iter().enumerate() {
                    if i >= STRONG_KEYS && j >= STRONG_KEYS {
                        continue;
                    }
                    let (low, high) = if a <= b { (a, b) } else { (b, a) };
                    out.push(posting_key(bucket, low, high));
                }
            }
        }
    }
}

/// The watchlist in memory with its inverted index.
pub struct Watchlist {
    alerts: Vec<Alert>,
    screened: Vec<Screened>,
    sketches: Vec<AlertSketch>,
    postings: Postings,
    by_id: HashMap<String, u32>,
    nationalities: HashMap<String, u32>,
    rules: MatchRules,
}

impl Watchlist {
    pub fn new(rules: MatchRules) -> Self {
        Self {
            alerts: Vec::new(),
            screened: Vec::new(),
            sketches: Vec::new(),
            postings: Postings::default(),
            by_id: HashMap::new(),
            nationalities: HashMap::new(),
            rules,
        }
    }

    /// A watchlist of these alerts, filed so that the alerts one screening reads lie together
    /// in memory: by date of birth (or year, or none), then given names, then surname. The
    /// candidates of a screening share a date, or a year and a given name, so they come from
    /// a few contiguous stretches of the list instead of hundreds of random places in it.
    pub fn from_alerts(rules: MatchRules, mut alerts: Vec<Alert>) -> Self {
        alerts.sort_by_cached_key(|alert| {
            (
                birth_bucket(alert.birth_date),
                to_mrz_alphabet(&alert.secondary_identifier),
                to_mrz_alphabet(&alert.primary_identifier),
            )
        });
        let mut watchlist = Self::new(rules);
        for alert in alerts {
            watchlist.insert(alert);
        }
        watchlist
    }

    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Adds an alert, or replaces the one with the same id.
    pub fn insert(&mut self, alert: Alert) {
        let name = Folded::new(&written_name(
            &alert.primary_identifier,
            &alert.secondary_identifier,
        ));
        let nationality = alert.nationality.as_ref().map(|code| {
            let next = self.nationalities.len() as u32;
            *self.nationalities.entry(code.clone()).or_insert(next)
        });
        let sketch = AlertSketch {
            name: NameSketch::new(&name),
            birth: alert.birth_date.into(),
        };
        let screened = Screened {
            name,
            birth_date: alert.birth_date,
            nationality,
            sex: alert.sex,
        };
        if let Some(&position) = self.by_id.get(&alert.alert_id) {
            // The old postings stay; scoring reads the new alert, so at worst a stale key
            // makes it a candidate that then does not score.
            self.file(position, &screened);
            self.alerts[position as usize] = alert;
            self.screened[position as usize] = screened;
            self.sketches[position as usize] = sketch;
            return;
        }
        let position = self.alerts.len() as u32;
        self.file(position, &screened);
        self.by_id.insert(alert.alert_id.clone(), position);
        self.alerts.push(alert);
        self.screened.push(screened);
        self.sketches.push(sketch);
    }

    fn file(&mut self, position: u32, screened: &Screened) {
        let (name, birth) = (&screened.name, screened.birth_date);
        let mut keys = Vec::new();
        match birth {
            BirthDate::Exact(_) => keys.push(posting_key(birth_bucket(birth), "D", "")),
            BirthDate::Year(_) | BirthDate::Unknown => {
                name_keys(name, birth_bucket(birth), true, &mut keys)
            }
        }
        name_keys(name, ANY_BIRTH, false, &mut keys);
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            let list = self.postings.entry(key).or_default();
            if list.last() != Some(&position) {
                list.push(position);
            }
        }
    }

    /// The keys a person can match: every exact date of birth within the tolerance, and the
    /// name words under the year and under "unknown"; the name words alone when the person's
    /// date of birth is unknown.
    fn query_keys(&self, name: &Folded, birth: Option<NaiveDate>) -> Vec<u64> {
        let mut keys = Vec::new();
        let Some(birth) = birth else {
            name_keys(name, ANY_BIRTH, false, &mut keys);
            return keys;
        };
        let tolerance = u64::from(self.rules.birth_date_tolerance_days);
        let first = birth
            .checked_sub_days(Days::new(tolerance))
            .unwrap_or(birth);
        keys.extend(
            first
                .iter_days()
                .take((2 * tolerance + 1) as usize)
                .map(|day| posting_key(birth_bucket(BirthDate::Exact(day)), "D", "")),
        );
        name_keys(
            name,
            birth_bucket(BirthDate::Year(birth.year())),
            true,
            &mut keys,
        );
        name_keys(name, birth_bucket(BirthDate::Unknown), true, &mut keys);
        keys
    }

    /// The person as scoring compares them: the nationality as the alerts' interned code
    /// (`Some(None)` when no alert has it).
    fn query<'p>(&self, person: &'p Person) -> Query<'p> {
        Query {
            person,
            name: QueryName::new(&person.primary_identifier, &person.secondary_identifier),
            nationality: person
                .nationality
                .as_ref()
                .map(|code| self.nationalities.get(code).copied()),
        }
    }

    /// Hits at or above the threshold, best first, found through the index.
    pub fn screen(&self, person: &Person) -> Vec<Hit> {
        let query = self.query(person);
        let keys = self.query_keys(&query.name.folded, person.birth_date);
        let candidates = self.candidates(&keys);
        let sketch = PersonSketch::new(&query.name.folded);
        let least_names = LeastNames::new(self.rules.threshold, person.birth_date.is_some());
        self.ranked(
            candidates
                .into_iter()
                .map(|position| position as usize)
                .filter(|&position| self.may_reach(&sketch, &least_names, position))
                .filter_map(|position| self.score(position, &query)),
        )
    }

    /// Whether a candidate's name, by its sketch, could reach the threshold with every other
    /// field at its best. A candidate without a sketch is scored.
    fn may_reach(&self, person: &PersonSketch, least: &LeastNames, position: usize) -> bool {
        let Some(alert) = self.sketches.get(position) else {
            return true;
        };
        name_similarity_bound(person, &alert.name)
            .is_none_or(|bound| bound >= least.of(alert.birth))
    }

    /// The alerts filed under any of these keys, each once, in the order of the list (so that
    /// scoring reads records that lie together one after the other).
    fn candidates(&self, keys: &[u64]) -> Vec<u32> {
        // All lookups first: they are independent, so their cache misses overlap.
        let lists: Vec<&Vec<u32>> = keys
            .iter()
            .filter_map(|key| self.postings.get(key))
            .collect();
        let mut candidates = Vec::with_capacity(lists.iter().map(|list| list.len()).sum());
        GATHERED.with_borrow_mut(|gathered| {
            gathered.resize(self.alerts.len().div_ceil(64), 0);
            for &position in lists.iter().copied().flatten() {
                let (word, bit) = (position as usize / 64, 1u64 << (position % 64));
                if let Some(bits) = gathered.get_mut(word)
                    && *bits & bit == 0
                {
                    *bits |= bit;
                    candidates.push(position);
                }
            }
            for &position in &candidates {
                if let Some(bits) = gathered.get_mut(position as usize / 64) {
                    *bits = 0;
                }
            }
        });
        candidates.sort_unstable();
        candidates
    }

    /// Hits found by scoring every alert: the reference the index is measured against.
    pub fn scan(&self, person: &Person) -> Vec<Hit> {
        let query = self.query(person);
        self.ranked((0..self.alerts.len()).filter_map(|position| self.score(position, &query)))
    }

    fn ranked(&self, hits: impl Iterator<Item = Hit>) -> Vec<Hit> {
        let mut hits: Vec<Hit> = hits.collect();
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.alert_id.cmp(&b.alert_id))
        });
        hits
    }

    /// The score of one alert for one person, as a hit when it reaches the threshold. Nothing
    /// is allocated until the alert is known to be a hit: most candidates are not.
    fn score(&self, position: usize, query: &Query<'_>) -> Option<Hit> {
        let screened = &self.screened[position];
        let person = query.person;
        let tolerance = self.rules.birth_date_tolerance_days;
        let birth = compare_birth(screened.birth_date, person.birth_date, tolerance);
        if matches!(birth, BirthComparison::Contradicts) {
            return None;
        }
        let nationality = match (screened.nationality, query.nationality) {
            (Some(theirs), Some(ours)) => Some(ours == Some(theirs)),
            _ => None,
        };
        let sex = match (screened.sex, person.sex) {
            (Some(theirs), Some(ours))
                if theirs != Sex::Unspecified && ours != Sex::Unspecified =>
            {
                Some(theirs == ours)
            }
            _ => None,
        };
        // The score a name similarity gives with the other fields as they compared, if it
        // reaches the threshold.
        let reaching = |name_score: f64| -> Option<f64> {
            // Even perfect agreement elsewhere cannot lift a name below this to the threshold.
            let others = BIRTH_WEIGHT + NATIONALITY_WEIGHT + SEX_WEIGHT;
            if name_score * NAME_WEIGHT + others < self.rules.threshold * (NAME_WEIGHT + others)
                && !matches!(birth, BirthComparison::Unknown)
            {
                return None;
            }
            let mut weighted = name_score * NAME_WEIGHT;
            let mut weights = NAME_WEIGHT;
            if let BirthComparison::Matches(score, _) = birth {
                weighted += score * BIRTH_WEIGHT;
                weights += BIRTH_WEIGHT;
            }
            if let Some(equal) = nationality {
                weighted += agreement(equal) * NATIONALITY_WEIGHT;
                weights += NATIONALITY_WEIGHT;
            }
            if let Some(equal) = sex {
                weighted += agreement(equal) * SEX_WEIGHT;
                weights += SEX_WEIGHT;
            }
            let score = weighted / weights;
            (score >= self.rules.threshold).then_some(score)
        };
        let name_score =
            name_similarity_reaching(&query.name.folded, &screened.name, |name_score| {
                reaching(name_score).is_some()
            })?;
        let score = reaching(name_score)?;
        let alert = &self.alerts[position];
        let mut fields = vec![FieldMatch {
            field: "name",
            score: name_score,
            explanation: format!(
                "Jaro-Winkler {name_score:.3} between {} and {} after ICAO 9303 transliteration",
                query.name.written,
                written_name(&alert.primary_identifier, &alert.secondary_identifier)
            ),
        }];
        if let BirthComparison::Matches(score, difference) = birth {
            fields.push(FieldMatch {
                field: "birth_date",
                score,
                explanation: explain_birth(difference, tolerance),
            });
        }
        if let (Some(equal), Some(theirs), Some(ours)) =
            (nationality, &alert.nationality, &person.nationality)
        {
            fields.push(FieldMatch {
                field: "nationality",
                score: agreement(equal),
                explanation: if equal {
                    "equal".into()
                } else {
                    format!("{ours} is not {theirs}")
                },
            });
        }
        if let Some(equal) = sex {
            fields.push(FieldMatch {
                field: "sex",
                score: agreement(equal),
                explanation: if equal { "equal" } else { "different" }.into(),
            });
        }
        Some(Hit {
            alert_id: alert.alert_id.clone(),
            reason: alert.reason.clone(),
            score,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn rules() -> MatchRules {
        MatchRules {
            threshold: 0.88,
            birth_date_tolerance_days: 0,
        }
    }

    fn alert(id: &str, primary: &str, secondary: &str, birth: BirthDate) -> Alert {
        Alert {
            alert_id: id.into(),
            primary_identifier: primary.into(),
            secondary_identifier: secondary.into(),
            birth_date: birth,
            nationality: None,
            sex: None,
            reason: "SIS Art. 24 refusal of entry".into(),
        }
    }

    fn person(primary: &str, secondary: &str, birth: Option<NaiveDate>) -> Person {
        Person {
            primary_identifier: primary.into(),
            secondary_identifier: secondary.into(),
            birth_date: birth,
            nationality: None,
            sex: None,
        }
    }

    fn watchlist() -> Watchlist {
        let mut list = Watchlist::new(rules());
        list.insert(alert(
            "A-1",
            "Müller",
            "Jürgen",
            BirthDate::Exact(ymd(1970, 5, 1)),
        ));
        list.insert(alert("A-2", "Шевченко", "Юрий", BirthDate::Year(1981)));
        list.insert(alert("A-3", "Παπαδόπουλος", "Γεώργιος", BirthDate::Unknown));
        list.insert(alert(
            "A-4",
            "SMITH",
            "JOHN",
            BirthDate::Exact(ymd(1990, 1, 1)),
        ));
        list
    }

    fn ids(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|hit| hit.alert_id.as_str()).collect()
    }

    #[test]
    fn icao_9303_part_3_transliteration_variants_match_the_alert() {
        let list = watchlist();
        let born = Some(ymd(1970, 5, 1));
        assert_eq!(
            ids(&list.screen(&person("MUELLER", "JUERGEN", born))),
            ["A-1"]
        );
        assert_eq!(
            ids(&list.screen(&person("MULLER", "JURGEN", born))),
            ["A-1"]
        );
        let born = Some(ymd(1981, 3, 3));
        assert_eq!(
            ids(&list.screen(&person("SHEVCHENKO", "IURII", born))),
            ["A-2"]
        );
        assert_eq!(
            ids(&list.screen(&person("SHEVCHENKO", "YURIY", born))),
            ["A-2"]
        );
        assert_eq!(
            ids(&list.screen(&person("PAPADOPOULOS", "GEORGIOS", Some(ymd(1960, 1, 1))))),
            ["A-3"]
        );
    }

    #[test]
    fn typos_dropped_letters_and_swapped_names_still_match() {
        let list = watchlist();
        let born = Some(ymd(1990, 1, 1));
        for (primary, secondary) in [
            ("SMITH", "JOHN"),
            ("SMIHT", "JOHN"),
            ("SMTH", "JOHN"),
            ("JOHN", "SMITH"),
        ] {
            assert_eq!(
                ids(&list.screen(&person(primary, secondary, born))),
                ["A-4"],
                "{primary} {secondary}"
            );
        }
        assert!(list.screen(&person("JONES", "MARY", born)).is_empty());
    }

    #[test]
    fn a_shared_surname_alone_is_not_a_match_but_a_missing_middle_name_is() {
        let mut list = Watchlist::new(rules());
        list.insert(alert("A-6", "KOVALEV", "MILA", BirthDate::Unknown));
        list.insert(alert("A-7", "SMITH", "ANNA MARIA", BirthDate::Unknown));
        assert!(list.screen(&person("KOVALEV", "OMAR", None)).is_empty());
        assert!(list.scan(&person("KOVALEV", "OMAR", None)).is_empty());
        assert_eq!(ids(&list.screen(&person("SMITH", "ANNA", None))), ["A-7"]);
    }

    #[test]
    fn a_contradicting_date_of_birth_excludes_the_alert() {
        let list = watchlist();
        assert!(
            list.screen(&person("SMITH", "JOHN", Some(ymd(1990, 1, 2))))
                .is_empty()
        );
        assert!(
            list.screen(&person("SHEVCHENKO", "IURII", Some(ymd(1982, 1, 1))))
                .is_empty()
        );
        let tolerant = {
            let mut list = Watchlist::new(MatchRules {
                birth_date_tolerance_days: 3,
                ..rules()
            });
            list.insert(alert(
                "A-4",
                "SMITH",
                "JOHN",
                BirthDate::Exact(ymd(1990, 1, 1)),
            ));
            list
        };
        let hits = tolerant.screen(&person("SMITH", "JOHN", Some(ymd(1989, 12, 30))));
        assert_eq!(ids(&hits), ["A-4"]);
        assert!(
            hits[0]
                .fields
                .iter()
                .any(|f| f.field == "birth_date" && f.explanation.contains("2 days"))
        );
    }

    #[test]
    fn a_hit_explains_each_field_and_an_unknown_birth_date_searches_every_date() {
        let mut list = watchlist();
        list.insert(Alert {
            nationality: Some("SRB".into()),
            sex: Some(Sex::Male),
            ..alert(
                "A-5",
                "PETROVIC",
                "MARKO",
                BirthDate::Exact(ymd(1979, 2, 14)),
            )
        });
        let hits = list.screen(&Person {
            nationality: Some("SRB".into()),
            sex: Some(Sex::Male),
            ..person("PETROVIC", "MARKO", Some(ymd(1979, 2, 14)))
        });
        assert_eq!(ids(&hits), ["A-5"]);
        let fields: Vec<_> = hits[0].fields.iter().map(|f| f.field).collect();
        assert_eq!(fields, ["name", "birth_date", "nationality", "sex"]);
        assert!((hits[0].score - 1.0).abs() < 1e-9);
        assert_eq!(
            ids(&list.screen(&person("PETROVIC", "MARKO", None))),
            ["A-5"]
        );
    }

    #[test]
    fn an_alerts_scoring_record_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Screened>(), 64);
        assert_eq!(std::mem::size_of::<AlertSketch>(), 32);
        let long = "KARAGIANNOPOULOS PAPADIMITRIOU ALEKSANDROS";
        let name = Folded::new(long);
        assert!(matches!(name.text, Text::Boxed(_)));
        assert_eq!(name.words().count(), 3);
        let short = Folded::new("SMITH JOHN");
        assert_eq!(short.words().collect::<Vec<_>>(), [b"SMIT", b"IOHN"]);
        assert_eq!(short.letters, 8);
    }

    proptest::proptest! {
        #[test]
        fn stopping_early_rejects_only_names_that_could_not_reach_the_threshold(
            a in "[A-E]{1,7}( [A-E]{1,9}){0,2}",
            b in "[A-E]{1,7}( [A-E]{1,9}){0,2}",
            threshold in 0.5f64..1.0,
        ) {
            let (a, b) = (Folded::new(&a), Folded::new(&b));
            let exact = name_similarity_reaching(&a, &b, |_| true);
            proptest::prop_assert!(exact.is_some());
            let exact = exact.unwrap_or_default();
            let bounded = name_similarity_reaching(&a, &b, |score| score >= threshold);
            if exact >= threshold {
                proptest::prop_assert_eq!(bounded.map(f64::to_bits), Some(exact.to_bits()));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn a_names_sketch_never_bounds_it_below_its_similarity(
            a in "[A-FJWY]{1,7}( [A-FJWY]{1,9}){0,4}",
            b in "[A-FJWY]{1,7}( [A-FJWY]{1,9}){0,4}",
        ) {
            let (a, b) = (Folded::new(&a), Folded::new(&b));
            let exact = name_similarity_reaching(&a, &b, |_| true).unwrap_or_default();
            let bound = name_similarity_bound(&PersonSketch::new(&a), &NameSketch::new(&b));
            let sketched = |name: &Folded| name.words().count() <= SKETCHED_WORDS;
            proptest::prop_assert_eq!(bound.is_some(), sketched(&a) && sketched(&b));
            if let Some(bound) = bound {
                proptest::prop_assert!(bound + BOUND_SLACK >= exact, "{} < {}", bound, exact);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn the_filter_in_front_of_scoring_keeps_every_hit(
            a in "[A-FJWY]{1,7}( [A-FJWY]{1,9}){0,3}",
            b in "[A-FJWY]{1,7}( [A-FJWY]{1,9}){0,3}",
            precision in 0u8..3,
            person_born in proptest::bool::ANY,
            same_nationality in proptest::bool::ANY,
            threshold in 0.5f64..1.0,
        ) {
            let born = ymd(1980, 6, 15);
            let birth = match precision {
                0 => BirthDate::Exact(born),
                1 => BirthDate::Year(1980),
                _ => BirthDate::Unknown,
            };
            let mut list = Watchlist::new(MatchRules { threshold, birth_date_tolerance_days: 0 });
            list.insert(Alert {
                nationality: Some("SRB".into()),
                sex: Some(Sex::Female),
                ..alert("A-1", &a, "", birth)
            });
            let person = Person {
                nationality: Some(if same_nationality { "SRB" } else { "UKR" }.into()),
                sex: Some(Sex::Female),
                ..person(&b, "", person_born.then_some(born))
            };
            let query = list.query(&person);
            if list.score(0, &query).is_some() {
                let least = LeastNames::new(threshold, person_born);
                proptest::prop_assert!(list.may_reach(&PersonSketch::new(&query.name.folded), &least, 0));
            }
        }
    }

    #[test]
    fn near_namesakes_sharing_only_an_inner_run_of_letters_are_candidates() {
        let mut list = Watchlist::new(rules());
        list.insert(alert("A-8", "STENOV", "TOMAS", BirthDate::Unknown));
        list.insert(alert("A-9", "LEOS", "AASA", BirthDate::Year(2007)));
        let born = Some(ymd(1972, 10, 18));
        let query = person("MISTEENKO", "TOMAS", born);
        assert_eq!(ids(&list.scan(&query)), ["A-8"]);
        assert_eq!(ids(&list.screen(&query)), ["A-8"]);
        let query = person("LEOS", "HASSAN", Some(ymd(2007, 2, 21)));
        assert_eq!(ids(&list.scan(&query)), ["A-9"]);
        assert_eq!(ids(&list.screen(&query)), ["A-9"]);
    }

    #[test]
    fn alerts_filed_in_bulk_screen_as_alerts_inserted_one_by_one() {
        let one_by_one = watchlist();
        let alerts: Vec<Alert> = one_by_one.alerts.clone();
        let bulk = Watchlist::from_alerts(rules(), alerts.into_iter().rev().collect());
        for query in [
            person("MUELLER", "JUERGEN", Some(ymd(1970, 5, 1))),
            person("SHEVCHENKO", "YURIY", Some(ymd(1981, 3, 3))),
            person("SMITH", "JOHN", None),
        ] {
            assert_eq!(ids(&bulk.screen(&query)), ids(&one_by_one.screen(&query)));
            assert!(!bulk.screen(&query).is_empty());
        }
    }

    #[test]
    fn the_index_finds_what_a_full_scan_finds() {
        let list = watchlist();
        for query in [
            person("SMIT", "JON", Some(ymd(1990, 1, 1))),
            person("MILLER", "JURGEN", Some(ymd(1970, 5, 1))),
            person("SEVCENKO", "JURIJ", Some(ymd(1981, 7, 7))),
        ] {
            assert_eq!(ids(&list.screen(&query)), ids(&list.scan(&query)));
        }
    }
}
