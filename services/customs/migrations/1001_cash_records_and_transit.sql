-- Cash declarations and detections recorded for the financial intelligence unit
-- (Regulation (EU) 2018/1672 Art. 9). Amounts are decimal strings in `currency_code`.
CREATE TABLE cash_fiu_records (
    record_id TEXT PRIMARY KEY,
    declaration_id TEXT NOT NULL,
    crossing_point TEXT NOT NULL,
    traveller_reference TEXT NOT NULL,
    compliance TEXT NOT NULL,
    value_amount TEXT NOT NULL,
    declared_amount TEXT NOT NULL,
    currency_code TEXT NOT NULL,
    cash_forms TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX cash_fiu_records_by_declaration ON cash_fiu_records (declaration_id);

-- Transit movements (NCTS). `record` is the encoded TransitMovement; `time_limit` is an ISO
-- 8601 date, which orders correctly as text.
CREATE TABLE transit_movements (
    mrn TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    office_of_departure TEXT NOT NULL,
    time_limit TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX transit_movements_by_status_and_time_limit ON transit_movements (status, time_limit);
