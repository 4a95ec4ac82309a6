//! Lost, stolen and revoked travel documents (Interpol SLTD and the national list): a compact
//! probabilistic filter in front of the exact store, so that the common case, a document that is
//! not reported, costs a few memory reads and no database round trip.

use std::collections::HashSet;

use xorf::{BinaryFuse16, Filter};

/// Why a document is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus {
    Lost,
    Stolen,
    Revoked,
}

impl ReportStatus {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Lost => "reported lost",
            Self::Stolen => "reported stolen",
            Self::Revoked => "revoked by its issuer",
        }
    }
}

/// A document as SLTD identifies it: issuing state, type and number (SBC Art. 8(3)(a)(ii)
/// requires the check against SIS and Interpol's SLTD on entry).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocumentKey {
    pub issuing_state: String,
    /// The first letter of the ICAO 9303 document code (P, I, A, C, V): the type; the second
    /// letter is at the issuer's discretion and not used by lookups.
    pub document_type: char,
    pub document_number: String,
}

impl DocumentKey {
    /// Normalises the code (first letter) and the number (without fillers) as a zone prints them.
    pub fn new(issuing_state: &str, document_code: &str, document_number: &str) -> Self {
        Self {
            issuing_state: issuing_state.to_ascii_uppercase(),
            document_type: document_code
                .chars()
                .next()
                .map_or('<', |c| c.to_ascii_uppercase()),
            document_number: document_number.trim_end_matches('<').to_ascii_uppercase(),
        }
    }

    /// A 64-bit fingerprint that is the same in every process and version: FNV-1a over the
    /// three fields, then the SplitMix64 finaliser so that the filter sees well-mixed bits.
    pub fn fingerprint(&self) -> u64 {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = OFFSET;
        let mut feed = |bytes: &[u8]| {
            for byte in bytes {
                hash ^= u64::from(*byte);
                hash = hash.wrapping_mul(PRIME);
            }
            // A separator byte outside the zone's alphabet keeps "AB"+"C" apart from "A"+"BC".
            hash ^= 0xff;
            hash = hash.wrapping_mul(PRIME);
        };
        feed(self.issuing_state.as_bytes());
        feed(&[self.document_type as u8]);
        feed(self.document_number.as_bytes());
        let mut z = hash.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The immutable binary fuse filter (about 2.25 bytes a record, false positives about 1 in
/// 65,536) built from the store, and the exact set of fingerprints added since it was built.
pub struct DocumentFilter {
    fuse: Option<BinaryFuse16>,
    base_len: usize,
    added: HashSet<u64>,
}

impl DocumentFilter {
    /// Builds the filter from every fingerprint in the store; duplicates are allowed.
    pub fn build(mut fingerprints: Vec<u64>) -> Result<Self, &'static str> {
        fingerprints.sort_unstable();
        fingerprints.dedup();
        let fuse = if fingerprints.is_empty() {
            None
        } else {
            Some(BinaryFuse16::try_from(&fingerprints)?)
        };
        Ok(Self {
            fuse,
            base_len: fingerprints.len(),
            added: HashSet::new(),
        })
    }

    /// False means the document is certainly not reported; true means "ask the exact store".
    pub fn may_contain(&self, fingerprint: u64) -> bool {
        self.fuse
            .as_ref()
            .is_some_and(|fuse| fuse.contains(&fingerprint))
            || self.added.contains(&fingerprint)
    }

    pub fn add(&mut self, fingerprint: u64) {
        if !self.fuse.as_ref().is_some_and(|f| f.contains(&fingerprint)) {
            self.added.insert(fingerprint);
        }
    }

    /// The fingerprints added since the build, which a rebuild folds in.
    pub fn added(&self) -> &HashSet<u64> {
        &self.added
    }

    /// Keeps only the additions that a rebuild did not see, after swapping in its filter.
    pub fn carry_over(&mut self, previous: &DocumentFilter, seen_by_rebuild: &HashSet<u64>) {
        self.added = previous
            .added
            .iter()
            .copied()
            .filter(|fingerprint| !seen_by_rebuild.contains(fingerprint))
            .collect();
    }

    /// The delta set is exact but costs about 40 bytes a record: rebuild when it outgrows a
    /// sixteenth of the filter (or a few thousand records while the list is small).
    pub fn needs_rebuild(&self) -> bool {
        self.added.len() > (self.base_len / 16).max(4096)
    }

    pub fn len(&self) -> usize {
        self.base_len + self.added.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> DocumentKey {
        DocumentKey::new("SRB", "P", &format!("{n:09}"))
    }

    #[test]
    fn keys_are_normalised_as_a_zone_prints_them() {
        assert_eq!(
            DocumentKey::new("utO", "PO", "L898902C3<<"),
            DocumentKey::new("UTO", "P<", "L898902C3")
        );
        assert_ne!(
            DocumentKey::new("UTO", "P", "L898902C3").fingerprint(),
            DocumentKey::new("UTO", "I", "L898902C3").fingerprint()
        );
        assert_ne!(
            DocumentKey::new("UTO", "P", "1").fingerprint(),
            DocumentKey::new("UTO", "P", "11").fingerprint()
        );
    }

    #[test]
    fn every_reported_document_passes_the_filter_and_most_others_do_not() {
        let reported: Vec<u64> = (0..50_000).map(|n| key(n).fingerprint()).collect();
        let filter = DocumentFilter::build(reported.clone()).unwrap();
        assert!(reported.iter().all(|f| filter.may_contain(*f)));
        let false_positives = (50_000..150_000)
            .filter(|n| filter.may_contain(key(*n).fingerprint()))
            .count();
        // About 1 in 65,536 expected: 100,000 probes give 1 or 2.
        assert!(false_positives < 20, "{false_positives}");
    }

    #[test]
    fn additions_are_seen_before_a_rebuild_and_carried_over_after_it() {
        let mut filter = DocumentFilter::build(vec![key(1).fingerprint()]).unwrap();
        let added = key(2).fingerprint();
        assert!(!filter.may_contain(added));
        filter.add(added);
        assert!(filter.may_contain(added));
        let seen: HashSet<u64> = filter.added().clone();
        let late = key(3).fingerprint();
        filter.add(late);
        let mut rebuilt =
            DocumentFilter::build(vec![key(1).fingerprint(), key(2).fingerprint()]).unwrap();
        rebuilt.carry_over(&filter, &seen);
        assert!(rebuilt.may_contain(added));
        assert!(rebuilt.may_contain(late));
        assert_eq!(rebuilt.added().len(), 1);
    }

    #[test]
    fn an_empty_list_contains_nothing() {
        let filter = DocumentFilter::build(Vec::new()).unwrap();
        assert!(!filter.may_contain(key(1).fingerprint()));
        assert!(filter.is_empty());
    }
}
