-- The first schema: every upload and the set of chunks each has received (sqlite/0001).
-- Times are seconds since the epoch, as the core's `Upload` carries them.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    client_id TEXT UNIQUE,
    owner TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT,
    chunk_size BIGINT,
    chunk_count INTEGER,
    received INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    sha256 TEXT,
    download_token TEXT UNIQUE,
    storage_key TEXT,
    error TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX uploads_state ON uploads(state);
CREATE TABLE chunks (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    PRIMARY KEY (upload_id, idx)
);
