-- Who uploaded, who may download, and accounts (issues 8 and 11; as sqlite/0006).
-- uploads.address: the client address that made the upload (the per-address cap on unfinished
-- uploads counts these). account: the account that made it, NULL when nobody signed in with one.
-- relative_path: where the file was in the folder the uploader sent ("photos/2024/a.jpg",
-- cleaned), NULL for a lone file; data only, never a path on this server.
-- download_password: a password hash (argon2id, encoded) a download must present; NULL: none.
-- max_downloads: downloads allowed (NULL: any number); downloads: those delivered whole so far.
-- delete_key: the secret of the delete link, shown to the uploader (like download_token).
ALTER TABLE uploads ADD COLUMN address TEXT;
ALTER TABLE uploads ADD COLUMN account TEXT;
ALTER TABLE uploads ADD COLUMN relative_path TEXT;
ALTER TABLE uploads ADD COLUMN download_password TEXT;
ALTER TABLE uploads ADD COLUMN max_downloads INTEGER;
ALTER TABLE uploads ADD COLUMN downloads INTEGER NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN delete_key TEXT;
CREATE INDEX uploads_open_address ON uploads(address) WHERE state = 'receiving';
CREATE INDEX uploads_account ON uploads(account, state);
-- Accounts: a name, an argon2id password hash (encoded), whether it may use the admin page,
-- and its quotas (NULL: none): bytes stored (complete and unfinished uploads), uploads open.
CREATE TABLE accounts (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    admin BOOLEAN NOT NULL DEFAULT false,
    quota_bytes BIGINT,
    quota_uploads INTEGER,
    created_at DOUBLE PRECISION NOT NULL
);
-- Tokens for scripts (Authorization: Bearer): only their SHA-256 is kept.
CREATE TABLE tokens (
    digest TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    label TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    last_used DOUBLE PRECISION
);
CREATE INDEX tokens_account ON tokens(account);
