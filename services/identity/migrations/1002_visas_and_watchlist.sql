-- Visa stickers issued by consulates; `record` is the encoded IssuedVisa with its entries used.
CREATE TABLE issued_visas (
    visa_number TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Person alerts; `record` is the encoded WatchlistEntry. The index is built in memory from here.
CREATE TABLE watchlist_entries (
    alert_id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
