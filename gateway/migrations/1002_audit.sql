-- The audit trail of access to personal data (SIS Regulation 2018/1862 Art. 12): append-only,
-- each entry carrying the hash of the one before, so that an altered or removed entry shows.
CREATE TABLE audit_log (
    sequence BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    agency TEXT NOT NULL,
    officer TEXT NOT NULL,
    purpose TEXT NOT NULL,
    action TEXT NOT NULL,
    crossing_id TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_by_crossing ON audit_log (crossing_id);

-- Which travellers a crossing concerns, by a pseudonymous key of their document, so that an
-- auditor can ask about one traveller without the trail repeating personal data.
CREATE TABLE crossing_travellers (
    crossing_id TEXT NOT NULL,
    traveller_key TEXT NOT NULL,
    PRIMARY KEY (crossing_id, traveller_key)
);
CREATE INDEX crossing_travellers_by_key ON crossing_travellers (traveller_key);
