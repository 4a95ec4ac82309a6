-- Health entry documents (CHED). `record` is the encoded Ched; `status`, `assessment_id` and
-- `subject` repeat it for conditional updates: a document is linked to one consignment only.
CREATE TABLE cheds (
    reference TEXT PRIMARY KEY,
    document_type TEXT NOT NULL,
    status TEXT NOT NULL,
    origin_country TEXT NOT NULL,
    commodity_code TEXT NOT NULL,
    assessment_id TEXT,
    subject TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX cheds_by_assessment ON cheds (assessment_id);

-- Outcomes of checks, from which an origin's recent non-compliance is computed.
CREATE TABLE inspection_results (
    reference TEXT PRIMARY KEY,
    origin_country TEXT NOT NULL,
    commodity_group TEXT NOT NULL,
    compliant BIGINT NOT NULL,
    decided_at BIGINT NOT NULL
);
CREATE INDEX inspection_results_by_origin
    ON inspection_results (origin_country, commodity_group, decided_at);

-- Electronic phytosanitary certificates; `used_by_*` is set once, by the consignment it covers.
CREATE TABLE phytosanitary_certificates (
    certificate_id TEXT PRIMARY KEY,
    issuing_country TEXT NOT NULL,
    used_by_assessment TEXT,
    used_by_subject TEXT,
    created_at BIGINT NOT NULL,
    record TEXT NOT NULL
);

-- Luggage checks and the seizures they recorded.
CREATE TABLE luggage_checks (
    check_id TEXT PRIMARY KEY,
    crossing_point TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE seizures (
    seizure_id TEXT PRIMARY KEY,
    check_id TEXT NOT NULL,
    crossing_point TEXT NOT NULL,
    category TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX seizures_by_point_and_time ON seizures (crossing_point, created_at);
