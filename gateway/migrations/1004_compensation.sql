-- The recovery loop looks for steps still open (compensations an agency has not answered yet).
CREATE INDEX saga_steps_by_state ON saga_steps (state, updated_at);
