-- Several processes as one: claims with leases, the processes that hold them, and a count of
-- re-sent chunks that tells a running digest it is stale (sqlite/0003). `expires_at` and
-- `seen_at` are on the database's clock, so hosts whose clocks differ agree on who is live.
ALTER TABLE uploads ADD COLUMN rewrites INTEGER NOT NULL DEFAULT 0;
CREATE TABLE claims (
    name TEXT PRIMARY KEY,
    upload_id TEXT REFERENCES uploads(id) ON DELETE CASCADE,
    holder TEXT NOT NULL,
    instance TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX claims_upload ON claims(upload_id);
CREATE INDEX claims_instance ON claims(instance);
CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL
);
