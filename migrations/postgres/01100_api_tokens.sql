-- +goose Up
-- Scoped API tokens (internal/apitoken). Only the SHA-256 of a token is
-- kept (hex); the token itself is shown once when it is created.
-- scopes is a comma-separated list; expires_at and last_used_at are NULL
-- for never. last_used_at is written back at most once a minute per token.
CREATE TABLE api_tokens (
    name         TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT
);

-- +goose Down
DROP TABLE api_tokens;
