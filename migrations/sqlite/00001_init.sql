-- +goose Up
-- Times are Unix milliseconds (INTEGER) in both engines so the Go code
-- and the queries stay the same.

-- One row per incoming call (CallSid unique). twiml is the answer given,
-- replayed byte for byte when Twilio retries the webhook.
CREATE TABLE calls (
    call_sid        TEXT PRIMARY KEY,
    account_sid     TEXT NOT NULL DEFAULT '',
    from_number     TEXT NOT NULL DEFAULT '',
    to_number       TEXT NOT NULL DEFAULT '',
    from_country    TEXT NOT NULL DEFAULT '',
    caller_name     TEXT NOT NULL DEFAULT '',
    decision        TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'ringing',
    active          INTEGER NOT NULL DEFAULT 0,
    status_seq      INTEGER NOT NULL DEFAULT -1,
    duration_sec    INTEGER,
    twiml           TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT UNIQUE,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    answered_at     INTEGER,
    ended_at        INTEGER
);
CREATE INDEX calls_active ON calls (active) WHERE active = 1;
CREATE INDEX calls_created ON calls (created_at);
CREATE INDEX calls_from ON calls (from_number);

-- One-time media-stream tokens handed out by /voice/accept. Only a hash of
-- the token is kept; twiml is the answer replayed on a retry.
CREATE TABLE stream_tokens (
    token_hash TEXT PRIMARY KEY,
    call_sid   TEXT NOT NULL UNIQUE,
    twiml      TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);

-- Webhook deliveries seen, keyed on I-Twilio-Idempotency-Token.
CREATE TABLE webhook_receipts (
    idempotency_key TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    call_sid        TEXT NOT NULL DEFAULT '',
    response        TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
);

-- Deny ('blocked') and allow ('allowed') lists; source is 'env' or 'api'.
CREATE TABLE caller_lists (
    list       TEXT NOT NULL CHECK (list IN ('blocked', 'allowed')),
    number     TEXT NOT NULL,
    source     TEXT NOT NULL DEFAULT 'api',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (list, number)
);

CREATE TABLE contacts (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    name_key     TEXT NOT NULL UNIQUE,
    phone_number TEXT NOT NULL,
    aliases      TEXT NOT NULL DEFAULT '[]',
    note         TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX contacts_phone ON contacts (phone_number);

-- Conferences the server created (conf_<CallSid>) and who was dialled in.
CREATE TABLE conferences (
    name            TEXT PRIMARY KEY,
    caller_call_sid TEXT NOT NULL,
    conference_sid  TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'created',
    caller_joined   INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE conference_participants (
    conference_name TEXT NOT NULL,
    call_sid        TEXT NOT NULL,
    number          TEXT NOT NULL DEFAULT '',
    role            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (conference_name, call_sid)
);

-- Conference status callbacks, stored once each.
CREATE TABLE conference_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conference_sid  TEXT NOT NULL,
    conference_name TEXT NOT NULL DEFAULT '',
    sequence_number INTEGER NOT NULL,
    event           TEXT NOT NULL,
    call_sid        TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT UNIQUE,
    params          TEXT NOT NULL DEFAULT '{}',
    event_at        INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (conference_sid, sequence_number)
);
CREATE INDEX conference_events_name ON conference_events (conference_name, sequence_number);

CREATE TABLE transcripts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    call_sid   TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('caller', 'agent')),
    text       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX transcripts_call ON transcripts (call_sid, id);
CREATE INDEX transcripts_created ON transcripts (created_at);

-- Audit trail. remote_ip is stored masked; detail is JSON.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    type       TEXT NOT NULL,
    severity   TEXT NOT NULL DEFAULT 'info',
    actor      TEXT NOT NULL DEFAULT '',
    remote_ip  TEXT NOT NULL DEFAULT '',
    call_sid   TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL
);
CREATE INDEX audit_events_created ON audit_events (created_at);
CREATE INDEX audit_events_type ON audit_events (type, created_at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE transcripts;
DROP TABLE conference_events;
DROP TABLE conference_participants;
DROP TABLE conferences;
DROP TABLE contacts;
DROP TABLE caller_lists;
DROP TABLE webhook_receipts;
DROP TABLE stream_tokens;
DROP TABLE calls;
