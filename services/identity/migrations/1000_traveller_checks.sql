-- First-line border checks of travellers. `record` is the encoded TravellerCheck answered.
CREATE TABLE traveller_checks (
    check_id TEXT PRIMARY KEY,
    crossing_point TEXT NOT NULL,
    direction TEXT NOT NULL,
    verdict TEXT NOT NULL,
    nationality TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX traveller_checks_by_point_and_time ON traveller_checks (crossing_point, created_at);
