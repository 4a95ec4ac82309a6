-- Where a declaration stands: lodged, or invalidated (UCC Art. 174). `record` holds the same.
ALTER TABLE declarations ADD COLUMN status TEXT NOT NULL DEFAULT 'DECLARATION_STATUS_LODGED';
