-- Expiry and clean-up (issue 7): the life a finished file was given (seconds; NULL for ever),
-- when it expires (set on completion), and when the clean-up removed an upload's bytes and how
-- many. Removed uploads keep their rows, in the states 'expired' and 'abandoned'.
ALTER TABLE uploads ADD COLUMN lifetime REAL;
ALTER TABLE uploads ADD COLUMN expires_at REAL;
ALTER TABLE uploads ADD COLUMN removed_at REAL;
ALTER TABLE uploads ADD COLUMN freed_bytes INTEGER;
CREATE INDEX uploads_expiry ON uploads(expires_at) WHERE state = 'complete';
