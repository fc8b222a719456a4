-- +goose Up
-- Outbound calls placed through POST /api/calls, one row each, kept for a
-- day: the rate limits (OUTBOUND_CALLS_PER_MINUTE, one call per
-- destination per 10 minutes, OUTBOUND_CALLS_PER_DAY) count these rows
-- inside the transaction that adds one, so they hold across instances.
-- The destination is kept only as a keyed hash (dest_hash:
-- HMAC-SHA256 under PRIVACY_HASH_KEY), never the number.
-- outbound_rate_lock has one row; the counting transaction locks it
-- (FOR UPDATE), so instances take their turns and never both see room
-- for the last call.
CREATE TABLE outbound_attempts (
  id BIGSERIAL PRIMARY KEY,
  dest_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX outbound_attempts_created ON outbound_attempts (created_at);
CREATE INDEX outbound_attempts_dest ON outbound_attempts (dest_hash, created_at);
CREATE TABLE outbound_rate_lock (id INTEGER PRIMARY KEY);
INSERT INTO outbound_rate_lock (id) VALUES (1);

-- +goose Down
DROP TABLE outbound_rate_lock;
DROP TABLE outbound_attempts;
