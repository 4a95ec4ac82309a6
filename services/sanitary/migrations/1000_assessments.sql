-- Sanitary assessments of consignments. `record` is the encoded Assessment answered.
CREATE TABLE assessments (
    assessment_id TEXT PRIMARY KEY,
    crossing_point TEXT NOT NULL,
    verdict TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX assessments_by_point_and_time ON assessments (crossing_point, created_at);
