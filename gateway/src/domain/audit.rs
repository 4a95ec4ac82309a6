//! The audit trail's hash chain (SIS Regulation 2018/1862 Art. 12: logs of every access to
//! personal data, protected against alteration): each entry's hash covers its fields and the
//! previous entry's hash, so altering or removing an entry breaks every link after it.

use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who accessed personal data, as the caller's request metadata names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accessor {
    pub agency: String,
    pub officer: String,
    pub purpose: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub sequence: i64,
    pub at: i64,
    pub accessor: Accessor,
    pub action: String,
    pub crossing_id: String,
    pub previous_hash: String,
    pub hash: String,
}

/// SHA-256 over the previous hash and every field, each length-prefixed so that no two entries
/// share an encoding.
pub fn entry_hash(
    previous_hash: &str,
    sequence: i64,
    at: i64,
    accessor: &Accessor,
    action: &str,
    crossing_id: &str,
) -> String {
    let mut hasher = Sha256::new();
    for field in [
        previous_hash,
        &sequence.to_string(),
        &at.to_string(),
        &accessor.agency,
        &accessor.officer,
        &accessor.purpose,
        action,
        crossing_id,
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// A pseudonymous key for a traveller's document, so that the trail can be searched by
/// traveller without holding document numbers.
pub fn traveller_key(issuing_state: &str, document_number: &str) -> String {
    hex::encode(Sha256::digest(format!("{issuing_state}/{document_number}")))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tampering {
    /// The entry's fields no longer give its hash.
    Altered { sequence: i64 },
    /// The entry does not carry the previous entry's hash.
    BrokenLink { sequence: i64 },
    /// Entries between these two sequence numbers are missing.
    Removed { after: i64, before: i64 },
}

/// Every sign of tampering in entries read in sequence order.
pub fn verify(entries: &[AuditEntry]) -> Vec<Tampering> {
    let mut found = Vec::new();
    let mut previous: Option<&AuditEntry> = None;
    for entry in entries {
        let expected_sequence = previous.map_or(1, |p| p.sequence + 1);
        if entry.sequence != expected_sequence {
            found.push(Tampering::Removed {
                after: expected_sequence - 1,
                before: entry.sequence,
            });
        }
        let expected_link = previous.map_or(GENESIS, |p| p.hash.as_str());
        if entry.previous_hash != expected_link {
            found.push(Tampering::BrokenLink {
                sequence: entry.sequence,
            });
        }
        let recomputed = entry_hash(
            &entry.previous_hash,
            entry.sequence,
            entry.at,
            &entry.accessor,
            &entry.action,
            &entry.crossing_id,
        );
        if recomputed != entry.hash {
            found.push(Tampering::Altered {
                sequence: entry.sequence,
            });
        }
        previous = Some(entry);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(length: i64) -> Vec<AuditEntry> {
        let accessor = Accessor {
            agency: "border-police".into(),
            officer: "officer-7".into(),
            purpose: "first-line check".into(),
        };
        let mut entries: Vec<AuditEntry> = Vec::new();
        for sequence in 1..=length {
            let previous_hash = entries
                .last()
                .map_or(GENESIS.to_owned(), |e| e.hash.clone());
            let hash = entry_hash(
                &previous_hash,
                sequence,
                1000 + sequence,
                &accessor,
                "GetCrossing",
                "c-1",
            );
            entries.push(AuditEntry {
                sequence,
                at: 1000 + sequence,
                accessor: accessor.clone(),
                action: "GetCrossing".into(),
                crossing_id: "c-1".into(),
                previous_hash,
                hash,
            });
        }
        entries
    }

    #[test]
    fn sis_2018_1862_art_12_an_intact_chain_verifies() {
        assert!(verify(&chain(5)).is_empty());
    }

    #[test]
    fn an_altered_entry_is_found() {
        let mut entries = chain(5);
        entries[2].accessor.officer = "someone-else".into();
        assert_eq!(verify(&entries), [Tampering::Altered { sequence: 3 }]);
    }

    #[test]
    fn an_altered_entry_whose_hash_was_recomputed_breaks_the_next_link() {
        let mut entries = chain(5);
        entries[2].accessor.purpose = "curiosity".into();
        let e = &entries[2];
        entries[2].hash = entry_hash(
            &e.previous_hash,
            e.sequence,
            e.at,
            &e.accessor,
            &e.action,
            &e.crossing_id,
        );
        assert_eq!(verify(&entries), [Tampering::BrokenLink { sequence: 4 }]);
    }

    #[test]
    fn a_removed_entry_is_found() {
        let mut entries = chain(5);
        entries.remove(1);
        assert_eq!(
            verify(&entries),
            [
                Tampering::Removed {
                    after: 1,
                    before: 3
                },
                Tampering::BrokenLink { sequence: 3 }
            ]
        );
    }

    #[test]
    fn traveller_keys_do_not_show_the_document_number() {
        let key = traveller_key("SRB", "012345678");
        assert_eq!(key.len(), 64);
        assert!(!key.contains("012345678"));
        assert_ne!(key, traveller_key("SRB", "012345679"));
    }
}
