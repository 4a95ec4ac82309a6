-- AIP-155: the first answer to a request_id, replayed for every repeat.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    request_id TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, request_id)
);
