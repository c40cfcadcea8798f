-- Files placed by content, stored once (issue 7; as sqlite/0005): one row per stored content,
-- counting the uploads that point to it (`refs`, each upload's `content`). state: 'absent' (being placed),
-- 'present' (its file is in place), 'removing' (the last upload let go; its file is being
-- removed). Finished uploads move to their content's key, `ab/cd/<sha256>`; their files are
-- moved by the first start after this migration (or `pyfiledrop migrate`).
CREATE TABLE contents (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    refs INTEGER NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX contents_removing ON contents(state) WHERE state = 'removing';
ALTER TABLE uploads ADD COLUMN content TEXT REFERENCES contents(sha256);
CREATE INDEX uploads_content ON uploads(content);
INSERT INTO contents (sha256, size, refs, state)
    SELECT sha256, max(size), count(*), 'present' FROM uploads
    WHERE state = 'complete' AND sha256 IS NOT NULL GROUP BY sha256;
UPDATE uploads SET content = sha256,
    storage_key = substr(sha256, 1, 2) || '/' || substr(sha256, 3, 2) || '/' || sha256
    WHERE state = 'complete' AND sha256 IS NOT NULL;
