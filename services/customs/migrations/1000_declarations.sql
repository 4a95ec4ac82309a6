-- Lodged declarations. `record` is the encoded Declaration answered.
CREATE TABLE declarations (
    declaration_id TEXT PRIMARY KEY,
    mrn TEXT NOT NULL UNIQUE,
    crossing_point TEXT NOT NULL,
    procedure_code TEXT NOT NULL,
    verdict TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX declarations_by_point_and_time ON declarations (crossing_point, created_at);
