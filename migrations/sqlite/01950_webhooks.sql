-- +goose Up
-- Webhook subscriptions (internal/webhooks). event_mask has one bit per
-- event type (webhooks.Event*); secret_sealed is the signing secret
-- encrypted with AES-256-GCM under a key derived from PRIVACY_HASH_KEY
-- (never stored here), base64. disabled_at is set when a receiver answers
-- 410 Gone.
CREATE TABLE webhook_subscriptions (
    id            TEXT PRIMARY KEY,
    url           TEXT NOT NULL,
    event_mask    INTEGER NOT NULL,
    secret_sealed TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER
);

-- The durable outbox: one row per (event, subscription), written in the
-- transaction of the state change that causes the event, deleted when the
-- delivery is done (delivered, given up, or its subscription disabled or
-- deleted). order_key orders the deliveries of one call to one
-- subscription (the call's SID; '' for events about no call); call_sid is
-- also what an erasure finds the rows by. payload is the event's data as
-- recorded (empty for call.ended, whose data is the call detail read at
-- the first attempt); body is the signed body, fixed at the first attempt
-- so every retry sends the same bytes. A claim sets lease_owner and
-- lease_until; a killed instance's claim expires with its lease.
CREATE TABLE webhook_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id     TEXT NOT NULL UNIQUE,
    event_id        TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    type            TEXT NOT NULL,
    call_sid        TEXT NOT NULL DEFAULT '',
    order_key       TEXT NOT NULL DEFAULT '',
    payload         TEXT NOT NULL DEFAULT '',
    body            TEXT,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, id);
CREATE INDEX webhook_outbox_order ON webhook_outbox (subscription_id, order_key, id);
CREATE INDEX webhook_outbox_call ON webhook_outbox (call_sid);

-- The delivery log: one row per delivery once it was attempted, kept 7
-- days. Status, attempts and the last error only, never a body.
CREATE TABLE webhook_deliveries (
    delivery_id     TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    type            TEXT NOT NULL,
    call_sid        TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_sub ON webhook_deliveries (subscription_id, updated_at);
CREATE INDEX webhook_deliveries_updated ON webhook_deliveries (updated_at);
CREATE INDEX webhook_deliveries_call ON webhook_deliveries (call_sid);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_outbox;
DROP TABLE webhook_subscriptions;
