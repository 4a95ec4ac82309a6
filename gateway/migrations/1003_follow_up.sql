-- When the gateway last asked the agencies whether a referred crossing's second line decided.
ALTER TABLE crossings ADD COLUMN followed_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX crossings_by_outcome ON crossings (outcome, followed_at);
