-- What a second-line decision or a compensating refusal needs from the first line: the verdict
-- the first line gave (the `verdict` column follows later decisions), the day of the crossing
-- and the visa presented; and which check wrote an EES record, and whether it counted a visa
-- entry, so that a refusal turns that very record into a refusal record (EES Art. 18).
ALTER TABLE traveller_checks ADD COLUMN first_line_verdict TEXT;
ALTER TABLE traveller_checks ADD COLUMN crossing_date TEXT;
ALTER TABLE traveller_checks ADD COLUMN visa_number TEXT;
UPDATE traveller_checks SET first_line_verdict = verdict;
ALTER TABLE ees_records ADD COLUMN check_id TEXT;
ALTER TABLE ees_records ADD COLUMN visa_number TEXT;
CREATE INDEX ees_records_by_check ON ees_records (check_id);
