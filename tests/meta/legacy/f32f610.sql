PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL);
INSERT INTO schema_migrations VALUES(1,'uploads',1796286610.9206290244);
INSERT INTO schema_migrations VALUES(2,'streams',1796286610.9215357303);
INSERT INTO schema_migrations VALUES(3,'claims',1796286610.9218869209);
INSERT INTO schema_migrations VALUES(4,'expiry',1796286610.9225213527);
INSERT INTO schema_migrations VALUES(5,'contents',1796286610.9230587481);
INSERT INTO schema_migrations VALUES(6,'access',1796286610.9243097304);
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    client_id TEXT UNIQUE,
    owner TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER,
    chunk_size INTEGER,
    chunk_count INTEGER,
    received INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    sha256 TEXT,
    download_token TEXT UNIQUE,
    storage_key TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
, protocol TEXT NOT NULL DEFAULT 'dropzone', stream_offset INTEGER NOT NULL DEFAULT 0, metadata TEXT, concat TEXT, rewrites INTEGER NOT NULL DEFAULT 0, lifetime REAL, expires_at REAL, removed_at REAL, freed_bytes INTEGER, content TEXT REFERENCES contents(sha256), address TEXT, account TEXT, relative_path TEXT, download_password TEXT, max_downloads INTEGER, downloads INTEGER NOT NULL DEFAULT 0, delete_key TEXT);
INSERT INTO uploads VALUES('4f456121caf0c5d43b10e070f92a35dd','73f57920-e77f-4eaa-8b53-5e0f90e473ed','a2c97ec4d4fdeba768cd640b0e45de31596cc931665b88c0197d13206eb1ffa0','same.bin','',2200,2200,1,1,'complete','b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee','sfHDccuASAW236yT5mAE-NP1ek17Ukqj','b9/cc/b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee',NULL,1796286611.0225181579,1796286611.0291323662,'dropzone',0,NULL,NULL,0,NULL,NULL,NULL,NULL,'b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee','127.0.0.1',NULL,NULL,NULL,NULL,0,'32v5kl9-AG8PSMjMJs48xYhV2-gl3qaK');
INSERT INTO uploads VALUES('ffe8b4b78a197a5a9ad72edfea03a76d','bbee28c0-8827-43fc-96c8-4b4e4d6f1496','a2c97ec4d4fdeba768cd640b0e45de31596cc931665b88c0197d13206eb1ffa0','again.bin','',2200,2200,1,1,'complete','b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee','wd8UeGugrSro9bTOZidDwGqhzYjtrInH','b9/cc/b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee',NULL,1796286611.0350408553,1796286611.0410201548,'dropzone',0,NULL,NULL,0,NULL,NULL,NULL,NULL,'b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee','127.0.0.1',NULL,NULL,NULL,NULL,0,'cx6HOqBiCcRCfoZLG_zZDik1Dy6AD23B');
INSERT INTO uploads VALUES('02edfbef5cc79172bba8714c8a9d2676','2134056d-c58f-41e1-acef-8b4acd8ecc2e','a2c97ec4d4fdeba768cd640b0e45de31596cc931665b88c0197d13206eb1ffa0','other.bin','',600,600,1,1,'complete','db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b','aU6lUUa4ILDqxmzUoQ5AKtz1LbUs1POM','db/74/db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b',NULL,1796286611.0459320545,1796286611.0507848262,'dropzone',0,NULL,NULL,0,NULL,NULL,NULL,NULL,'db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b','127.0.0.1',NULL,NULL,NULL,NULL,0,'tdaaVXkTOfzpURt4kIJclDdoNQQHl0a5');
INSERT INTO uploads VALUES('e13c254d5ada5f5685d9b8edf136fb58','8da012dd-f480-4558-9224-d4e93af9ec3b','a2c97ec4d4fdeba768cd640b0e45de31596cc931665b88c0197d13206eb1ffa0','half.bin','',2000,1000,2,1,'receiving',NULL,NULL,NULL,NULL,1796286611.0563962459,1796286611.0583722591,'dropzone',0,NULL,NULL,0,NULL,NULL,NULL,NULL,NULL,'127.0.0.1',NULL,NULL,NULL,NULL,0,'m0-jutEna1JAGCGonWj_8tLkn4qe3PdC');
CREATE TABLE chunks (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    PRIMARY KEY (upload_id, idx)
) WITHOUT ROWID;
INSERT INTO chunks VALUES('02edfbef5cc79172bba8714c8a9d2676',0);
INSERT INTO chunks VALUES('4f456121caf0c5d43b10e070f92a35dd',0);
INSERT INTO chunks VALUES('e13c254d5ada5f5685d9b8edf136fb58',0);
INSERT INTO chunks VALUES('ffe8b4b78a197a5a9ad72edfea03a76d',0);
CREATE TABLE claims (
    name TEXT PRIMARY KEY,
    upload_id TEXT REFERENCES uploads(id) ON DELETE CASCADE,
    holder TEXT NOT NULL,
    instance TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    seen_at REAL NOT NULL
);
CREATE TABLE contents (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    refs INTEGER NOT NULL,
    state TEXT NOT NULL
);
INSERT INTO contents VALUES('b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee',2200,2,'present');
INSERT INTO contents VALUES('db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b',600,1,'present');
CREATE TABLE accounts (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    quota_bytes INTEGER,
    quota_uploads INTEGER,
    created_at REAL NOT NULL
);
CREATE TABLE tokens (
    digest TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    label TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_used REAL
);
CREATE INDEX uploads_state ON uploads(state);
CREATE INDEX claims_upload ON claims(upload_id);
CREATE INDEX uploads_expiry ON uploads(expires_at) WHERE state = 'complete';
CREATE INDEX contents_removing ON contents(state) WHERE state = 'removing';
CREATE INDEX uploads_content ON uploads(content);
CREATE INDEX uploads_open_address ON uploads(address) WHERE state = 'receiving';
CREATE INDEX uploads_account ON uploads(account, state);
CREATE INDEX tokens_account ON tokens(account);
COMMIT;
