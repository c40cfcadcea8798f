PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL);
INSERT INTO schema_migrations VALUES(1,'uploads',1796207310.99831748);
INSERT INTO schema_migrations VALUES(2,'streams',1796207310.9992907046);
INSERT INTO schema_migrations VALUES(3,'claims',1796207311.0000865459);
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
, protocol TEXT NOT NULL DEFAULT 'dropzone', stream_offset INTEGER NOT NULL DEFAULT 0, metadata TEXT, concat TEXT, rewrites INTEGER NOT NULL DEFAULT 0);
INSERT INTO uploads VALUES('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','0b1c9a52-5a3e-4a61-9d7e-000000000001','oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo','aaaa.bin','application/octet-stream',10,4,3,2,'receiving',NULL,NULL,NULL,NULL,1764000000.0,1764000000.0,'dropzone',0,NULL,NULL,0);
INSERT INTO uploads VALUES('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','0b1c9a52-5a3e-4a61-9d7e-000000000002','oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo','bbbb.bin','application/octet-stream',10,4,3,3,'complete','cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc','TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',NULL,1764000000.0,1796207311.0150125026,'dropzone',0,NULL,NULL,0);
INSERT INTO uploads VALUES('dddddddddddddddddddddddddddddddd',NULL,'oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo','dddd.bin','application/octet-stream',10,4,3,0,'receiving',NULL,NULL,NULL,NULL,1764000000.0,1796207311.0153963565,'tus',8,'filename ZC5iaW4=',NULL,0);
INSERT INTO uploads VALUES('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee','0b1c9a52-5a3e-4a61-9d7e-000000000005','oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo','eeee.bin','application/octet-stream',10,4,3,3,'failed',NULL,NULL,NULL,'assembled 9 bytes, expected 10',1764000000.0,1796207311.016531229,'dropzone',0,NULL,NULL,0);
INSERT INTO uploads VALUES('ffffffffffffffffffffffffffffffff',NULL,'oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo','ffff.bin','application/octet-stream',5,8388608,1,0,'complete','9999999999999999999999999999999999999999999999999999999999999999','PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP','ffffffffffffffffffffffffffffffff',NULL,1764000000.0,1796207311.0171442032,'plain',5,NULL,NULL,0);
CREATE TABLE chunks (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    PRIMARY KEY (upload_id, idx)
) WITHOUT ROWID;
INSERT INTO chunks VALUES('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',0);
INSERT INTO chunks VALUES('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',2);
INSERT INTO chunks VALUES('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',0);
INSERT INTO chunks VALUES('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',1);
INSERT INTO chunks VALUES('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',2);
INSERT INTO chunks VALUES('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee',0);
INSERT INTO chunks VALUES('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee',1);
INSERT INTO chunks VALUES('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee',2);
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
CREATE INDEX uploads_state ON uploads(state);
CREATE INDEX claims_upload ON claims(upload_id);
COMMIT;
