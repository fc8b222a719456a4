-- +goose Up
-- Agents a business programs (internal/agents). tools is a JSON array of
-- tool names; durations are milliseconds. The agent "default" comes from
-- the environment and has no row.
CREATE TABLE agents (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    instructions    TEXT NOT NULL DEFAULT '',
    greeting        TEXT NOT NULL DEFAULT '',
    voice           TEXT NOT NULL,
    model           TEXT NOT NULL,
    language        TEXT NOT NULL DEFAULT '',
    tools           TEXT NOT NULL DEFAULT '[]',
    dial_policy     TEXT NOT NULL,
    max_call_ms     INTEGER NOT NULL,
    idle_timeout_ms INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- HTTP tools. secret_sealed is the signing secret encrypted with
-- AES-256-GCM under a key derived from PRIVACY_HASH_KEY (never stored
-- here), base64: a dump of this table alone cannot sign requests.
CREATE TABLE http_tools (
    name           TEXT PRIMARY KEY,
    description    TEXT NOT NULL DEFAULT '',
    parameters     TEXT NOT NULL,
    url            TEXT NOT NULL,
    timeout_ms     INTEGER NOT NULL,
    include_caller INTEGER NOT NULL DEFAULT 0,
    secret_sealed  TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- Service numbers assigned to agents. agent_id NULL is the default agent;
-- the foreign key makes deleting an agent a number uses fail (409).
CREATE TABLE agent_numbers (
    phone_number TEXT PRIMARY KEY,
    agent_id     TEXT REFERENCES agents(id),
    updated_at   INTEGER NOT NULL
);
CREATE INDEX agent_numbers_agent ON agent_numbers (agent_id);

-- The agent that answered a call ('' = the default agent).
ALTER TABLE calls ADD COLUMN agent_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE calls DROP COLUMN agent_id;
DROP TABLE agent_numbers;
DROP TABLE http_tools;
DROP TABLE agents;
