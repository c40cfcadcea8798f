PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL);
INSERT INTO schema_migrations VALUES(1,'uploads',1796285391.415044546);
INSERT INTO schema_migrations VALUES(2,'streams',1796285391.4155826568);
INSERT INTO schema_migrations VALUES(3,'claims',1796285391.4158806801);
INSERT INTO schema_migrations VALUES(4,'expiry',1796285391.4163739681);
INSERT INTO schema_migrations VALUES(5,'contents',1796285391.4168665408);
INSERT INTO schema_migrations VALUES(6,'access',1796285391.4178833961);
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
INSERT INTO uploads VALUES('929efd0281354fce2d2149300b41ef9c','15db36e3-2c47-4e05-8564-e693dcaf0331','e04a7e627df92eb58614e7a8c0f3072f49b180d4301ad7166d356f8092561d88','same.bin','',2200,2200,1,1,'complete','b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee','Y0r8znnrOsuTpMmX6sD8mH-Noqjr0v0M','b9/cc/b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee',NULL,1796285391.5084049701,1796285391.5150630473,'dropzone',0,NULL,NULL,0,NULL,NULL,NULL,NULL,'b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee','127.0.0.1',NULL,NULL,NULL,NULL,0,'viyWojUsbGRHSRdWtGQAgJtNmEd6VBcJ');
INSERT INTO uploads VALUES('8fb4f91d61b615cb6fde6f5976fc101b','b733e47f-4e5b-4529-b8a9-c8dd027a60fc','e04a7e627df92eb58614e7a8c0f3072f49b180d4301ad7166d356f8092561d88','again.bin','',2200,2200,1,1,'complete','b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee','KgzOeQjrEJ8UWEevM7RGiVlcRiBsAS6E','b9/cc/b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee',NULL,1796285392.019421339,1796285392.023656845,'dropzone',0,NULL,NULL,0,NULL,NULL,NULL,NULL,'b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee','127.0.0.1',NULL,NULL,NULL,NULL,0,'kdRsB3Bm0DbyYgulbvL-aYR7G4FUpNTy');
INSERT INTO uploads VALUES('118068efdce576c76e5ee9fe33ebe496','f837886c-9fb1-4145-b592-c42c226af8ea','e04a7e627df92eb58614e7a8c0f3072f49b180d4301ad7166d356f8092561d88','other.bin','',600,600,1,1,'complete','db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b','TAGbAkcHH4Y3JNvU4u37Qfp4tfZvvOio','db/74/db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b',NULL,1796285392.5299248695,1796285392.5340955256,'dropzone',0,NULL,NULL,0,NULL,NULL,NULL,NULL,'db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b','127.0.0.1',NULL,NULL,NULL,NULL,0,'RzKl_iFVSRoh-6SbGSzVM2CRPbkK7huO');
INSERT INTO uploads VALUES('7af1d0ebedf4ba8a941b17c979fa0237','bc2ad3ca-9e6d-44ad-81d6-98900405a69f','e04a7e627df92eb58614e7a8c0f3072f49b180d4301ad7166d356f8092561d88','half.bin','',2000,1000,2,1,'receiving',NULL,NULL,NULL,NULL,1796285393.037975788,1796285393.039814949,'dropzone',0,NULL,NULL,0,NULL,NULL,NULL,NULL,NULL,'127.0.0.1',NULL,NULL,NULL,NULL,0,'xJbe0RWECXABSjBG4sXPhnJLzNG989cg');
CREATE TABLE chunks (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    PRIMARY KEY (upload_id, idx)
) WITHOUT ROWID;
INSERT INTO chunks VALUES('118068efdce576c76e5ee9fe33ebe496',0);
INSERT INTO chunks VALUES('7af1d0ebedf4ba8a941b17c979fa0237',0);
INSERT INTO chunks VALUES('8fb4f91d61b615cb6fde6f5976fc101b',0);
INSERT INTO chunks VALUES('929efd0281354fce2d2149300b41ef9c',0);
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
