PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL);
INSERT INTO schema_migrations VALUES(1,'uploads',1796281042.1914951801);
INSERT INTO schema_migrations VALUES(2,'streams',1796281042.1919565201);
INSERT INTO schema_migrations VALUES(3,'claims',1796281042.1921410561);
INSERT INTO schema_migrations VALUES(4,'expiry',1796281042.1924386024);
INSERT INTO schema_migrations VALUES(5,'contents',1796281042.192864418);
INSERT INTO schema_migrations VALUES(6,'access',1796281042.1939787864);
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
INSERT INTO uploads VALUES('37aff27a83eb7290cb6f7222f928de15','91cae057-e148-49bb-ba60-903774cc3453','e04a7e627df92eb58614e7a8c0f3072f49b180d4301ad7166d356f8092561d88','same.bin','',2200,2200,1,1,'complete','b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee','Cz-g4rmVbxgiEO5gFDxwjjlCVwcribF6','b9/cc/b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee',NULL,1796281042.2911660671,1796281042.2978341579,'dropzone',0,NULL,NULL,0,NULL,NULL,NULL,NULL,'b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee','127.0.0.1',NULL,NULL,NULL,NULL,0,'o1DI2PUnjuZD8GO0ByrBXK2cJHZvvbVh');
INSERT INTO uploads VALUES('5b627108a8db3f10cd66781a49470325','8c79da89-cc73-4452-bf66-be5d8d62c472','e04a7e627df92eb58614e7a8c0f3072f49b180d4301ad7166d356f8092561d88','again.bin','',2200,2200,1,1,'complete','b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee','WdIn637iRtG7gu27j_ZH1z_f4D2yZQlA','b9/cc/b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee',NULL,1796281042.8057262896,1796281042.8168473243,'dropzone',0,NULL,NULL,0,NULL,NULL,NULL,NULL,'b9ccacf2af5f89876ce7118cd584fa42bbaba8337eee890279cb323f39c1ccee','127.0.0.1',NULL,NULL,NULL,NULL,0,'Q0fn2lQ_lfgPtk6-WAtpSD8ZPpywj-kZ');
INSERT INTO uploads VALUES('47dcbee6a46dea9361de91353f0d97d7','9dd89393-5487-410a-a774-6b40fb3099a9','e04a7e627df92eb58614e7a8c0f3072f49b180d4301ad7166d356f8092561d88','other.bin','',600,600,1,1,'complete','db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b','xI048hwD9tCCfHiEVRq4cs8bLqlkmUnL','db/74/db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b',NULL,1796281043.3198468685,1796281043.3248081207,'dropzone',0,NULL,NULL,0,NULL,NULL,NULL,NULL,'db74ec4dcb37693477e8d9950d69f21a7acc219deb4fcdb40084fcc8fa58ba0b','127.0.0.1',NULL,NULL,NULL,NULL,0,'dRcCNCug-3_rC6w1QyCl-AvXnUhncdi7');
INSERT INTO uploads VALUES('ce072cee29ed0a0107e4814bcf3310ec','f1397c5b-d13f-4787-877e-6802f825db8b','e04a7e627df92eb58614e7a8c0f3072f49b180d4301ad7166d356f8092561d88','half.bin','',2000,1000,2,1,'receiving',NULL,NULL,NULL,NULL,1796281043.8302891254,1796281043.845953226,'dropzone',0,NULL,NULL,0,NULL,NULL,NULL,NULL,NULL,'127.0.0.1',NULL,NULL,NULL,NULL,0,'FQVvo7FXhbrjxLAjJ-1TCKBBSR_0SwfU');
CREATE TABLE chunks (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    PRIMARY KEY (upload_id, idx)
) WITHOUT ROWID;
INSERT INTO chunks VALUES('37aff27a83eb7290cb6f7222f928de15',0);
INSERT INTO chunks VALUES('47dcbee6a46dea9361de91353f0d97d7',0);
INSERT INTO chunks VALUES('5b627108a8db3f10cd66781a49470325',0);
INSERT INTO chunks VALUES('ce072cee29ed0a0107e4814bcf3310ec',0);
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
