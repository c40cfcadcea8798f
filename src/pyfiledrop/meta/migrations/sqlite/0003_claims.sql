-- Several processes as one: claims with leases, the processes that hold them, and a count of
-- re-sent chunks that tells a running digest it is stale.
ALTER TABLE uploads ADD COLUMN rewrites INTEGER NOT NULL DEFAULT 0;
CREATE TABLE claims (
    name TEXT PRIMARY KEY,
    upload_id TEXT REFERENCES uploads(id) ON DELETE CASCADE,
    holder TEXT NOT NULL,
    instance TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX claims_upload ON claims(upload_id);
CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    seen_at REAL NOT NULL
);
