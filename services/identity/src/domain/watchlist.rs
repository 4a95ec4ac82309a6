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
//! candidates with Jaro-Winkler. A variant that changes one word is found through the other
//! word and whichever of the changed word's keys survived; an alert with an exact date is
//! always a candidate on that date.

use std::collections::HashMap;

use chrono::{Datelike, Days, NaiveDate};

use super::{
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

/// A name ready for comparison: its folded words, and its transliteration for explanations.
#[derive(Debug, Clone)]
struct Name {
    written: String,
    words: Vec<Box<str>>,
}

impl Name {
    fn new(primary: &str, secondary: &str) -> Self {
        let written = to_mrz_alphabet(&format!("{primary} {secondary}"));
        let words = written
            .split(' ')
            .filter(|word| !word.is_empty())
            .map(|word| fold(word).into_boxed_str())
            .collect();
        Self { written, words }
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
fn word_similarity(a: &str, b: &str) -> f64 {
    let (short, long) = (a.len().min(b.len()), a.len().max(b.len()));
    let similarity = strsim::jaro_winkler(a, b);
    if short * 2 < long {
        similarity * (2 * short) as f64 / long as f64
    } else {
        similarity
    }
}

/// Each word's best Jaro-Winkler against the other name's words, weighted by word length:
/// insensitive to the order of words (a swapped surname and given name still match).
fn directed_similarity(from: &[Box<str>], to: &[Box<str>]) -> f64 {
    let mut total = 0.0;
    let mut weight = 0.0;
    for word in from {
        let best = to
            .iter()
            .map(|other| word_similarity(word, other))
            .fold(0.0, f64::max);
        if best >= WORD_FLOOR {
            total += best * word.len() as f64;
        }
        weight += word.len() as f64;
    }
    if weight == 0.0 { 0.0 } else { total / weight }
}

fn name_similarity(a: &Name, b: &Name) -> f64 {
    let letters = |name: &Name| name.words.iter().map(|w| w.len()).sum::<usize>();
    let (shorter, longer) = if letters(a) <= letters(b) {
        (a, b)
    } else {
        (b, a)
    };
    SHORTER_NAME_WEIGHT * directed_similarity(&shorter.words, &longer.words)
        + (1.0 - SHORTER_NAME_WEIGHT) * directed_similarity(&longer.words, &shorter.words)
}

enum BirthComparison {
    /// Both dates known and irreconcilable: the alert is someone else.
    Contradicts,
    Unknown,
    Matches(f64, String),
}

fn compare_birth(alert: BirthDate, person: Option<NaiveDate>, tolerance: u32) -> BirthComparison {
    let Some(person) = person else {
        return BirthComparison::Unknown;
    };
    match alert {
        BirthDate::Unknown => BirthComparison::Unknown,
        BirthDate::Year(year) if year == person.year() => {
            BirthComparison::Matches(YEAR_ONLY_SCORE, "year of birth only, equal".into())
        }
        BirthDate::Year(_) => BirthComparison::Contradicts,
        BirthDate::Exact(date) => {
            let difference = (date - person).num_days().unsigned_abs();
            if difference == 0 {
                BirthComparison::Matches(1.0, "exact".into())
            } else if difference <= u64::from(tolerance) {
                let score = 1.0 - 0.5 * difference as f64 / (f64::from(tolerance) + 1.0);
                BirthComparison::Matches(
                    score,
                    format!("{difference} days apart, within the tolerance of {tolerance}"),
                )
            } else {
                BirthComparison::Contradicts
            }
        }
    }
}

/// An alert with its name prepared once.
#[derive(Debug, Clone)]
struct IndexedAlert {
    alert: Alert,
    name: Name,
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
/// a single typo, dropped letter or other transliteration rarely changes all three. The last
/// two (first and last letter) are weak, and only ever paired with a strong key of another word.
const STRONG_KEYS: usize = 3;

fn word_keys(word: &str) -> [String; 5] {
    let prefix_end = word.char_indices().nth(3).map_or(word.len(), |(i, _)| i);
    let suffix_start = word.len().saturating_sub(3);
    let skeleton: String = word
        .chars()
        .filter(|c| !matches!(c, 'A' | 'E' | 'I' | 'O' | 'U'))
        .take(4)
        .collect();
    [
        format!("P{}", &word[..prefix_end]),
        format!("S{}", &word[suffix_start..]),
        format!("K{skeleton}"),
        format!("F{}", &word[..word.len().min(1)]),
        format!("L{}", &word[word.len().saturating_sub(1)..]),
    ]
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

/// Keys of a name: for two words or more, every pair of a key of one word with a key of
/// another, at least one of them strong (in either order, so swapped names meet), which stays
/// selective where a common given name alone would not; for a single word, its strong keys.
fn name_keys(name: &Name, bucket: u64, out: &mut Vec<u64>) {
    let keys: Vec<[String; 5]> = name
        .words
        .iter()
        .take(MAX_KEYED_WORDS)
        .map(|word| word_keys(word))
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
    alerts: Vec<IndexedAlert>,
    postings: HashMap<u64, Vec<u32>>,
    by_id: HashMap<String, u32>,
    rules: MatchRules,
}

impl Watchlist {
    pub fn new(rules: MatchRules) -> Self {
        Self {
            alerts: Vec::new(),
            postings: HashMap::new(),
            by_id: HashMap::new(),
            rules,
        }
    }

    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Adds an alert, or replaces the one with the same id.
    pub fn insert(&mut self, alert: Alert) {
        let name = Name::new(&alert.primary_identifier, &alert.secondary_identifier);
        if let Some(&position) = self.by_id.get(&alert.alert_id) {
            // The old postings stay; scoring reads the new alert, so at worst a stale key
            // makes it a candidate that then does not score.
            self.file(position, &name, alert.birth_date);
            self.alerts[position as usize] = IndexedAlert { alert, name };
            return;
        }
        let position = self.alerts.len() as u32;
        self.file(position, &name, alert.birth_date);
        self.by_id.insert(alert.alert_id.clone(), position);
        self.alerts.push(IndexedAlert { alert, name });
    }

    fn file(&mut self, position: u32, name: &Name, birth: BirthDate) {
        let mut keys = Vec::with_capacity(name.words.len() * name.words.len() * 21 + 1);
        match birth {
            BirthDate::Exact(_) => keys.push(posting_key(birth_bucket(birth), "D", "")),
            BirthDate::Year(_) | BirthDate::Unknown => {
                name_keys(name, birth_bucket(birth), &mut keys)
            }
        }
        name_keys(name, ANY_BIRTH, &mut keys);
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
    fn query_keys(&self, name: &Name, birth: Option<NaiveDate>) -> Vec<u64> {
        let mut keys = Vec::new();
        let Some(birth) = birth else {
            name_keys(name, ANY_BIRTH, &mut keys);
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
        name_keys(name, birth_bucket(BirthDate::Year(birth.year())), &mut keys);
        name_keys(name, birth_bucket(BirthDate::Unknown), &mut keys);
        keys
    }

    /// Hits at or above the threshold, best first, found through the index.
    pub fn screen(&self, person: &Person) -> Vec<Hit> {
        let name = Name::new(&person.primary_identifier, &person.secondary_identifier);
        let keys = self.query_keys(&name, person.birth_date);
        let mut candidates: Vec<u32> = keys
            .iter()
            .filter_map(|key| self.postings.get(key))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        self.ranked(
            candidates
                .into_iter()
                .filter_map(|position| self.score(&self.alerts[position as usize], person, &name)),
        )
    }

    /// Hits found by scoring every alert: the reference the index is measured against.
    pub fn scan(&self, person: &Person) -> Vec<Hit> {
        let name = Name::new(&person.primary_identifier, &person.secondary_identifier);
        self.ranked(
            self.alerts
                .iter()
                .filter_map(|indexed| self.score(indexed, person, &name)),
        )
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

    /// The score of one alert for one person, as a hit when it reaches the threshold.
    fn score(&self, indexed: &IndexedAlert, person: &Person, name: &Name) -> Option<Hit> {
        let alert = &indexed.alert;
        let birth = compare_birth(
            alert.birth_date,
            person.birth_date,
            self.rules.birth_date_tolerance_days,
        );
        if matches!(birth, BirthComparison::Contradicts) {
            return None;
        }
        let name_score = name_similarity(name, &indexed.name);
        // Even perfect agreement elsewhere cannot lift a name below this to the threshold.
        let others = BIRTH_WEIGHT + NATIONALITY_WEIGHT + SEX_WEIGHT;
        if name_score * NAME_WEIGHT + others < self.rules.threshold * (NAME_WEIGHT + others)
            && !matches!(birth, BirthComparison::Unknown)
        {
            return None;
        }
        let mut fields = vec![FieldMatch {
            field: "name",
            score: name_score,
            explanation: String::new(),
        }];
        let mut weighted = name_score * NAME_WEIGHT;
        let mut weights = NAME_WEIGHT;
        if let BirthComparison::Matches(score, explanation) = birth {
            weighted += score * BIRTH_WEIGHT;
            weights += BIRTH_WEIGHT;
            fields.push(FieldMatch {
                field: "birth_date",
                score,
                explanation,
            });
        }
        if let (Some(theirs), Some(ours)) = (&alert.nationality, &person.nationality) {
            let score = if theirs == ours { 1.0 } else { 0.0 };
            weighted += score * NATIONALITY_WEIGHT;
            weights += NATIONALITY_WEIGHT;
            fields.push(FieldMatch {
                field: "nationality",
                score,
                explanation: if score == 1.0 {
                    "equal".into()
                } else {
                    format!("{ours} is not {theirs}")
                },
            });
        }
        if let (Some(theirs), Some(ours)) = (alert.sex, person.sex)
            && theirs != Sex::Unspecified
            && ours != Sex::Unspecified
        {
            let score = if theirs == ours { 1.0 } else { 0.0 };
            weighted += score * SEX_WEIGHT;
            weights += SEX_WEIGHT;
            fields.push(FieldMatch {
                field: "sex",
                score,
                explanation: if score == 1.0 { "equal" } else { "different" }.into(),
            });
        }
        let score = weighted / weights;
        if score < self.rules.threshold {
            return None;
        }
        fields[0].explanation = format!(
            "Jaro-Winkler {name_score:.3} between {} and {} after ICAO 9303 transliteration",
            name.written, indexed.name.written
        );
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
