BEGIN TRANSACTION;
CREATE TABLE chunks (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    PRIMARY KEY (upload_id, idx)
) WITHOUT ROWID;
INSERT INTO "chunks" VALUES('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',0);
INSERT INTO "chunks" VALUES('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',2);
INSERT INTO "chunks" VALUES('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',0);
INSERT INTO "chunks" VALUES('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',1);
INSERT INTO "chunks" VALUES('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',2);
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
    updated_at REAL NOT NULL,
    protocol TEXT NOT NULL,
    stream_offset INTEGER NOT NULL DEFAULT 0,
    metadata TEXT,
    concat TEXT
);
INSERT INTO "uploads" VALUES('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','0b1c9a52-5a3e-4a61-9d7e-000000000001','oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo','aaaa.bin','application/octet-stream',10,4,3,2,'receiving',NULL,NULL,NULL,NULL,1764000000.0,1764000000.0,'dropzone',0,NULL,NULL);
INSERT INTO "uploads" VALUES('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','0b1c9a52-5a3e-4a61-9d7e-000000000002','oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo','bbbb.bin','application/octet-stream',10,4,3,3,'complete','cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc','TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',NULL,1764000000.0,1.79619830662429666523e+09,'dropzone',0,NULL,NULL);
INSERT INTO "uploads" VALUES('dddddddddddddddddddddddddddddddd',NULL,'oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo','dddd.bin','application/octet-stream',10,4,3,0,'receiving',NULL,NULL,NULL,NULL,1764000000.0,1764000000.0,'tus',8,'filename ZC5iaW4=',NULL);
CREATE INDEX uploads_state ON uploads(state);
COMMIT;
