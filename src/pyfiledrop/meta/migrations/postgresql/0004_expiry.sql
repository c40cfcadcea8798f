-- Expiry and clean-up (issue 7): the life a finished file was given (seconds; NULL for ever),
-- when it expires (set on completion), and when the clean-up removed an upload's bytes and how
-- many (sqlite/0004). Times are on the core's clock, as `created_at` and `updated_at` are.
ALTER TABLE uploads ADD COLUMN lifetime DOUBLE PRECISION;
ALTER TABLE uploads ADD COLUMN expires_at DOUBLE PRECISION;
ALTER TABLE uploads ADD COLUMN removed_at DOUBLE PRECISION;
ALTER TABLE uploads ADD COLUMN freed_bytes BIGINT;
CREATE INDEX uploads_expiry ON uploads(expires_at) WHERE state = 'complete';
