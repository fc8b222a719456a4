package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/voiceagent/voiceagent/internal/events"
)

// Live events cross instances through PostgreSQL NOTIFY, several to a
// notification, one a line. A NOTIFY payload must stay under 8000 bytes;
// larger events are stored in event_payloads and announced by reference
// ("#<id>" on their line).
const (
	maxInlineNotify   = 7000
	refPrefix         = "#"
	channelNamePrefix = "voiceagent_events_"
)

// EventPayloadRetention is how long a stored live-event payload is kept
// for the other instances to fetch. Listeners fetch a reference as soon
// as its notification arrives, so minutes are ample; payloads can hold
// transcript text, so they are kept no longer. Storing a payload deletes
// older ones, and the retention job (internal/app) purges with the same
// bound when no new payloads arrive.
const EventPayloadRetention = 5 * time.Minute

// EventChannel is the PostgreSQL transport of the live-event bus: NOTIFY
// on the shared pool to send, LISTEN on a dedicated connection to
// receive. The channel name includes the schema, so deployments (and
// tests) sharing one database in different schemas never see each
// other's events.
type EventChannel struct {
	db      *DB
	channel string
	now     func() time.Time
}

var _ events.Transport = (*EventChannel)(nil)

// EventChannel returns the transport for this database. SQLite serves a
// single instance, so it has none: the error says so.
func (db *DB) EventChannel(ctx context.Context) (*EventChannel, error) {
	if db.Engine != Postgres {
		return nil, errors.New("live events cross instances only with PostgreSQL")
	}
	var schema string
	if err := db.SQL.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("event channel: read schema: %w", err)
	}
	return &EventChannel{db: db, channel: channelName(schema), now: time.Now}, nil
}

// channelName derives a valid channel identifier (at most 63 bytes) from
// the schema name.
func channelName(schema string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(schema) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		}
	}
	name := b.String()
	if name != schema || len(channelNamePrefix)+len(name) > 63 {
		sum := sha256.Sum256([]byte(schema))
		name = hex.EncodeToString(sum[:12])
	}
	return channelNamePrefix + name
}

// Channel is the NOTIFY channel name in use.
func (c *EventChannel) Channel() string { return c.channel }

// Send notifies every listener of payloads, in order, in as few
// notifications as fit: each notification carries one or more payloads,
// one a line (an encoded event holds no raw newline), up to
// maxInlineNotify bytes; and every notification of a batch goes in one
// statement, one round trip, so the bus keeps up with a burst of call
// admissions. A payload too large for a notification is stored first and
// its line is a reference; stored payloads older than
// EventPayloadRetention are deleted on the way.
func (c *EventChannel) Send(ctx context.Context, payloads [][]byte) error {
	var msgs []string
	var cur strings.Builder
	// A notification is sized once for what it may hold instead of
	// doubling line by line (4 % of the bytes the server allocated under
	// make load-pg, with a burst's events in a few sends).
	size := min(notifyBytes(payloads), maxInlineNotify)
	for _, p := range payloads {
		line := string(p)
		if len(p) > maxInlineNotify || strings.ContainsRune(line, '\n') {
			ref, err := c.store(ctx, line)
			if err != nil {
				return err
			}
			line = ref
		}
		if cur.Len() > 0 && cur.Len()+1+len(line) > maxInlineNotify {
			msgs = append(msgs, cur.String())
			cur.Reset()
		}
		if cur.Cap() == 0 {
			cur.Grow(size)
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(line)
	}
	if cur.Len() > 0 {
		msgs = append(msgs, cur.String())
	}
	if len(msgs) == 0 {
		return nil
	}
	// Notifications of one transaction are delivered in the order sent.
	_, err := c.db.SQL.ExecContext(ctx, `SELECT pg_notify($1, m) FROM unnest($2::text[]) WITH ORDINALITY AS t(m, i) ORDER BY i`, c.channel, msgs)
	if err != nil {
		return fmt.Errorf("notify events: %w", err)
	}
	return nil
}

// notifyBytes is the length of payloads as one notification.
func notifyBytes(payloads [][]byte) int {
	n := 0
	for _, p := range payloads {
		n += len(p) + 1
	}
	return n
}

// store keeps a payload too large for a notification in event_payloads
// and returns its reference line.
func (c *EventChannel) store(ctx context.Context, payload string) (string, error) {
	var id int64
	now := c.now()
	err := c.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM event_payloads WHERE created_at < $1`, Millis(now.Add(-EventPayloadRetention))); err != nil {
			return fmt.Errorf("delete old event payloads: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO event_payloads (payload, created_at) VALUES ($1, $2) RETURNING id`, payload, Millis(now)).Scan(&id); err != nil {
			return fmt.Errorf("store event payload: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return refPrefix + strconv.FormatInt(id, 10), nil
}

// Listen opens a dedicated connection, LISTENs, calls ready, and delivers
// every payload (fetching referenced ones) until ctx ends or the
// connection fails.
func (c *EventChannel) Listen(ctx context.Context, ready func(), deliver func(payload []byte)) error {
	conn, err := pgx.Connect(ctx, c.db.URL)
	if err != nil {
		return fmt.Errorf("event listener: connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn.Close(cctx) //nolint:errcheck // closing a listener; nothing to do on failure
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{c.channel}.Sanitize()); err != nil {
		return fmt.Errorf("event listener: listen: %w", err)
	}
	ready()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("event listener: wait: %w", err)
		}
		for line := range strings.SplitSeq(n.Payload, "\n") {
			payload, err := c.resolve(ctx, line)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				continue // a missing or expired reference: that event is lost
			}
			deliver(payload)
		}
	}
}

// resolve turns a notification into the event payload, reading a
// referenced one from event_payloads.
func (c *EventChannel) resolve(ctx context.Context, msg string) ([]byte, error) {
	if !strings.HasPrefix(msg, refPrefix) {
		return []byte(msg), nil
	}
	id, err := strconv.ParseInt(msg[len(refPrefix):], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("event reference %q: %w", msg, err)
	}
	var payload string
	if err := c.db.SQL.QueryRowContext(ctx, `SELECT payload FROM event_payloads WHERE id = $1`, id).Scan(&payload); err != nil {
		return nil, translate(err, "event payload")
	}
	return []byte(payload), nil
}
