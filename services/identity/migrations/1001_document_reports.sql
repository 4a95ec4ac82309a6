-- Lost, stolen and revoked travel documents (Interpol SLTD and the national list). The
-- fingerprint is the 64-bit key of the in-memory filter, kept so a rebuild reads one column.
CREATE TABLE document_reports (
    issuing_state TEXT NOT NULL,
    document_type TEXT NOT NULL,
    document_number TEXT NOT NULL,
    fingerprint BIGINT NOT NULL,
    document_code TEXT NOT NULL,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    reported_on TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuing_state, document_type, document_number)
);
