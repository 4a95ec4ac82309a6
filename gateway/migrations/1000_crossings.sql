-- Crossings as the gateway accepted and decided them. `record` is the encoded Crossing.
CREATE TABLE crossings (
    crossing_id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    crossing_point TEXT NOT NULL,
    direction TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX crossings_by_point_and_time ON crossings (crossing_point, created_at);
