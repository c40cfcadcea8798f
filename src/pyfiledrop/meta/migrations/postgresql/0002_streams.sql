-- Stream uploads (tus): the protocol, the stored byte count, Upload-Metadata, Upload-Concat
-- (sqlite/0002).
ALTER TABLE uploads ADD COLUMN protocol TEXT NOT NULL DEFAULT 'dropzone';
ALTER TABLE uploads ADD COLUMN stream_offset BIGINT NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN metadata TEXT;
ALTER TABLE uploads ADD COLUMN concat TEXT;
