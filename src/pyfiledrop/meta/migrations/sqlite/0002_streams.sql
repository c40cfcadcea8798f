-- Stream uploads (tus, 99d1c55): the protocol, the stored byte count, Upload-Metadata, Upload-Concat.
ALTER TABLE uploads ADD COLUMN protocol TEXT NOT NULL DEFAULT 'dropzone';
ALTER TABLE uploads ADD COLUMN stream_offset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN metadata TEXT;
ALTER TABLE uploads ADD COLUMN concat TEXT;
