-- Entry, exit and refusal records (EES, Regulation (EU) 2017/2226), dates as YYYY-MM-DD.
-- `traveller_key` is the issuing state and number of the travel document.
CREATE TABLE ees_records (
    record_id TEXT PRIMARY KEY,
    traveller_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    crossed_on TEXT NOT NULL,
    crossing_point TEXT NOT NULL,
    nationality TEXT NOT NULL,
    refusal_codes TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ees_records_by_traveller ON ees_records (traveller_key, crossed_on);

-- One row per traveller: until when their records must be kept (EES Art. 34).
CREATE TABLE ees_files (
    traveller_key TEXT PRIMARY KEY,
    keep_until TEXT NOT NULL
);
CREATE INDEX ees_files_by_keep_until ON ees_files (keep_until);
