-- The saga log: for each step of a crossing, the intent written before the agency is called
-- and the agency's answer after it, so that a restarted gateway resumes without repeating a
-- step's effect.
CREATE TABLE saga_steps (
    crossing_id TEXT NOT NULL,
    step TEXT NOT NULL,
    state TEXT NOT NULL,
    response TEXT,
    attempts BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (crossing_id, step)
);

-- The google.rpc.Status an agency refused a submission with, replayed for repeats.
ALTER TABLE crossings ADD COLUMN rejection TEXT;

CREATE INDEX crossings_by_status ON crossings (status, updated_at);
