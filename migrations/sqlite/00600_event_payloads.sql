-- +goose Up
-- SQLite runs a single instance, so live events never cross processes and
-- this table stays empty. It exists so both engines share schema versions
-- and table names (see postgres/00600_event_payloads.sql).
CREATE TABLE event_payloads (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    payload    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX event_payloads_created ON event_payloads (created_at);

-- +goose Down
DROP TABLE event_payloads;
