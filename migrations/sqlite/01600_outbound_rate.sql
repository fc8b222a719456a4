-- +goose Up
-- Outbound calls placed through POST /api/calls, one row each, kept for a
-- day: the rate limits (OUTBOUND_CALLS_PER_MINUTE, one call per
-- destination per 10 minutes, OUTBOUND_CALLS_PER_DAY) count these rows
-- inside the transaction that adds one, so they hold across instances.
-- The destination is kept only as a keyed hash (dest_hash:
-- HMAC-SHA256 under PRIVACY_HASH_KEY), never the number.
CREATE TABLE outbound_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dest_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX outbound_attempts_created ON outbound_attempts (created_at);
CREATE INDEX outbound_attempts_dest ON outbound_attempts (dest_hash, created_at);

-- +goose Down
DROP TABLE outbound_attempts;
