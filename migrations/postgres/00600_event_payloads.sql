-- +goose Up
-- Live events too large for one NOTIFY payload (PostgreSQL caps it near
-- 8000 bytes) are stored here and announced by id. Rows only need to live
-- until every instance has fetched them; the publisher deletes rows older
-- than a few minutes and the daily retention job sweeps the rest.
CREATE TABLE event_payloads (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX event_payloads_created ON event_payloads (created_at);

-- +goose Down
DROP TABLE event_payloads;
