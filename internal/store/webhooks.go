package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/webhooks"
)

// WebhookStore keeps webhook subscriptions, the outbox and the delivery
// log. The outbox rows of call and audit events are written by the call
// and audit stores in their own transactions (webhook_outbox.go).
type WebhookStore struct{ db *DB }

// Webhooks returns the webhook store.
func (db *DB) Webhooks() *WebhookStore { return &WebhookStore{db: db} }

var _ webhooks.Store = (*WebhookStore)(nil)

const subscriptionCols = `id, url, event_mask, created_at, disabled_at`

func scanSubscription(r rowScanner) (webhooks.Subscription, error) {
	var s webhooks.Subscription
	var mask, created int64
	var disabled sql.NullInt64
	if err := r.Scan(&s.ID, &s.URL, &mask, &created, &disabled); err != nil {
		return webhooks.Subscription{}, err
	}
	s.Events = webhooks.TypesOf(mask)
	s.CreatedAt = FromMillis(created)
	if disabled.Valid {
		t := FromMillis(disabled.Int64)
		s.DisabledAt = &t
	}
	return s, nil
}

// InsertSubscription stores a new subscription with its sealed secret,
// unless limit subscriptions exist already (apperr.Conflict). The count and
// the insert are one transaction that holds the table's insert lock (on
// PostgreSQL SHARE ROW EXCLUSIVE, which conflicts with itself and with
// writers but not with readers; on SQLite the writer lock), so creations
// racing on any number of instances never pass the cap.
func (s *WebhookStore) InsertSubscription(ctx context.Context, sub webhooks.Subscription, sealed []byte, limit int) error {
	var mask int64
	for _, e := range sub.Events {
		mask |= webhooks.Bit(e)
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if s.db.Engine == Postgres {
			if _, err := tx.ExecContext(ctx, `LOCK TABLE webhook_subscriptions IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return translate(err, "webhook")
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO webhook_subscriptions (id, url, event_mask, secret_sealed, created_at)
SELECT $1, $2, $3, $4, $5 WHERE (SELECT COUNT(*) FROM webhook_subscriptions) < $6`,
			sub.ID, sub.URL, mask, base64.StdEncoding.EncodeToString(sealed), Millis(sub.CreatedAt), limit)
		if err != nil {
			return translate(err, "webhook")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.Errorf(apperr.Conflict, "at most %d webhooks; delete one first", limit)
		}
		return nil
	})
}

// ListSubscriptions returns every subscription, oldest first.
func (s *WebhookStore) ListSubscriptions(ctx context.Context) ([]webhooks.Subscription, error) {
	rows, err := s.db.SQL.QueryContext(ctx, `SELECT `+subscriptionCols+` FROM webhook_subscriptions ORDER BY created_at, id`)
	if err != nil {
		return nil, translate(err, "webhooks")
	}
	defer rows.Close()
	out := []webhooks.Subscription{}
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, translate(err, "webhooks")
		}
		out = append(out, sub)
	}
	return out, translate(rows.Err(), "webhooks")
}

// GetSubscription returns one subscription.
func (s *WebhookStore) GetSubscription(ctx context.Context, id string) (webhooks.Subscription, error) {
	sub, err := scanSubscription(s.db.SQL.QueryRowContext(ctx, `SELECT `+subscriptionCols+` FROM webhook_subscriptions WHERE id = $1`, id))
	return sub, translate(err, "webhook")
}

// DeleteSubscription removes a subscription and its pending deliveries
// (the delivery log keeps what was attempted, for its 7 days).
func (s *WebhookStore) DeleteSubscription(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_subscriptions WHERE id = $1`, id)
		if err != nil {
			return translate(err, "webhook")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.NotFound, "webhook not found")
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM webhook_outbox WHERE subscription_id = $1`, id)
		return translate(err, "webhook outbox")
	})
}

// ListDeliveries returns a subscription's delivery log, newest first.
func (s *WebhookStore) ListDeliveries(ctx context.Context, subscriptionID string, limit int) ([]webhooks.Delivery, error) {
	rows, err := s.db.SQL.QueryContext(ctx, `SELECT delivery_id, event_id, subscription_id, type, call_sid, state, attempts, last_status, last_error, created_at, updated_at
FROM webhook_deliveries WHERE subscription_id = $1 ORDER BY updated_at DESC, delivery_id LIMIT $2`, subscriptionID, limit)
	if err != nil {
		return nil, translate(err, "webhook deliveries")
	}
	defer rows.Close()
	out := []webhooks.Delivery{}
	for rows.Next() {
		var d webhooks.Delivery
		var created, updated int64
		if err := rows.Scan(&d.ID, &d.EventID, &d.SubscriptionID, &d.Type, &d.CallSID, &d.State, &d.Attempts, &d.LastStatus, &d.LastError, &created, &updated); err != nil {
			return nil, translate(err, "webhook deliveries")
		}
		d.CreatedAt, d.UpdatedAt = FromMillis(created), FromMillis(updated)
		out = append(out, d)
	}
	return out, translate(rows.Err(), "webhook deliveries")
}

// EnqueueTest writes a webhook.test event for one (enabled)
// subscription, unless maxPending of its test events are still in the
// outbox (apperr.RateLimited). On PostgreSQL the subscription's row is
// locked while counting, so requests racing on several instances cannot
// pass the bound either.
func (s *WebhookStore) EnqueueTest(ctx context.Context, subscriptionID, payload string, at time.Time, maxPending int) (string, error) {
	hex := webhooks.NewEventHex()
	lock := ""
	if s.db.Engine == Postgres {
		lock = " FOR UPDATE"
	}
	var dlv string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM webhook_subscriptions WHERE id = $1 AND disabled_at IS NULL`+lock, subscriptionID).Scan(&one)
		if err != nil {
			return translate(err, "webhook")
		}
		var pending int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_outbox WHERE subscription_id = $1 AND type = $2`, subscriptionID, webhooks.Test).Scan(&pending); err != nil {
			return translate(err, "webhook outbox")
		}
		if pending >= maxPending {
			return apperr.Errorf(apperr.RateLimited, "%d test events are still waiting for this webhook; try again once they are delivered", pending)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_outbox (delivery_id, event_id, subscription_id, type, order_key, payload, created_at, next_attempt_at)
SELECT `+deliveryIDExpr+`, 'evt_' || $1, s.id, $2, 'test_' || $1, $3, $4, $4
FROM webhook_subscriptions s WHERE s.id = $5`, hex, webhooks.Test, payload, Millis(at), subscriptionID); err != nil {
			return translate(err, "webhook outbox")
		}
		return tx.QueryRowContext(ctx, `SELECT delivery_id FROM webhook_outbox WHERE event_id = $1`, "evt_"+hex).Scan(&dlv)
	})
	return dlv, err
}

// Claim leases due rows. On PostgreSQL the candidate rows are locked
// with FOR UPDATE SKIP LOCKED, so instances claiming at once take
// different rows without waiting for each other; the lease (set in the
// same statement) keeps the others away after the commit, until the
// owner finishes or the lease ends (a killed instance's claims expire).
// A row waits while an older row of the same call and subscription is
// still in the outbox: deliveries of one call arrive in order.
func (s *WebhookStore) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, n int, skip []string) ([]webhooks.Pending, error) {
	lock, skipped := "", `o.subscription_id NOT IN (SELECT value FROM json_each($5))`
	var skipArg any
	if s.db.Engine == Postgres {
		lock, skipped = ` FOR UPDATE OF o SKIP LOCKED`, `NOT (o.subscription_id = ANY($5::text[]))`
		skipArg = append([]string{}, skip...) // never NULL: = ANY(NULL) would match nothing
	} else {
		b, err := json.Marshal(append([]string{}, skip...))
		if err != nil {
			return nil, err
		}
		skipArg = string(b)
	}
	q := `UPDATE webhook_outbox SET lease_owner = $1, lease_until = $2
WHERE id IN (
  SELECT o.id FROM webhook_outbox o
  WHERE o.next_attempt_at <= $3 AND o.lease_until <= $3 AND ` + skipped + `
    AND NOT EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.subscription_id = o.subscription_id AND p.order_key = o.order_key AND p.id < o.id)
  ORDER BY o.id LIMIT $4` + lock + `)
RETURNING id`
	var ids []int64
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q, owner, Millis(now.Add(lease)), Millis(now), n, skipArg)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, translate(err, "webhook outbox")
	}
	out := make([]webhooks.Pending, 0, len(ids))
	for _, id := range ids {
		p, err := s.claimed(ctx, id, owner)
		if apperr.Is(err, apperr.NotFound) {
			// Its subscription was deleted or disabled: by the time the
			// event's transaction committed, the cleanup of the delete
			// (or the 410) had run. It is never sent; the row goes.
			if err := s.dropOrphan(ctx, id, owner, now); err != nil {
				return out, err
			}
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

// claimed reads one claimed row with its subscription's URL and secret;
// NotFound when the row is gone or its subscription deleted or disabled.
func (s *WebhookStore) claimed(ctx context.Context, id int64, owner string) (webhooks.Pending, error) {
	var p webhooks.Pending
	var body sql.NullString
	var created int64
	var sealed string
	err := s.db.SQL.QueryRowContext(ctx, `SELECT o.id, o.delivery_id, o.event_id, o.subscription_id, o.type, o.call_sid, o.payload, o.body,
  o.created_at, o.attempts, s.url, s.secret_sealed
FROM webhook_outbox o JOIN webhook_subscriptions s ON s.id = o.subscription_id AND s.disabled_at IS NULL
WHERE o.id = $1 AND o.lease_owner = $2`, id, owner).Scan(&p.ID, &p.DeliveryID, &p.EventID, &p.SubscriptionID, &p.Type, &p.CallSID,
		&p.Payload, &body, &created, &p.Attempts, &p.URL, &sealed)
	if err != nil {
		return p, translate(err, "webhook outbox")
	}
	p.Body = body.String
	p.CreatedAt = FromMillis(created)
	if p.Sealed, err = base64.StdEncoding.DecodeString(sealed); err != nil {
		p.Sealed = nil // does not open; the dispatcher says so
	}
	return p, nil
}

// logDroppedSQL logs the outbox rows matching where (over webhook_outbox
// o) as dropped because their webhook was disabled: $1 the dropped state,
// $2 the time.
func logDroppedSQL(where string) string {
	return `INSERT INTO webhook_deliveries (delivery_id, event_id, subscription_id, type, call_sid, state, attempts, last_status, last_error, created_at, updated_at)
SELECT o.delivery_id, o.event_id, o.subscription_id, o.type, o.call_sid, $1, o.attempts, 0, 'the webhook was disabled', o.created_at, $2
FROM webhook_outbox o WHERE ` + where + `
ON CONFLICT (delivery_id) DO UPDATE SET state = excluded.state, last_error = excluded.last_error, updated_at = excluded.updated_at`
}

// dropOrphan deletes a claimed row whose subscription was deleted or
// disabled after the row was written (DeleteSubscription and a 410 clean
// the outbox in their transaction, but an event's transaction may commit
// after that cleanup): left, it would be leased forever, raise the
// oldest-pending metric without end and keep its data past the
// webhook's deletion. A disabled subscription's log says it was dropped.
func (s *WebhookStore) dropOrphan(ctx context.Context, id int64, owner string, at time.Time) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		// Logged only while its subscription exists (disabled): a deleted
		// webhook has no deliveries route to show the row in.
		q := logDroppedSQL(`o.id = $3 AND o.lease_owner = $4 AND EXISTS (SELECT 1 FROM webhook_subscriptions s WHERE s.id = o.subscription_id)`)
		if _, err := tx.ExecContext(ctx, q, webhooks.StateDropped, Millis(at), id, owner); err != nil {
			return translate(err, "webhook delivery log")
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM webhook_outbox WHERE id = $1 AND lease_owner = $2`, id, owner)
		return translate(err, "webhook outbox")
	})
}

// SetBody fixes the signed body of a claimed row.
func (s *WebhookStore) SetBody(ctx context.Context, id int64, owner, body string) error {
	res, err := s.db.write(ctx, `UPDATE webhook_outbox SET body = $1 WHERE id = $2 AND lease_owner = $3 AND body IS NULL`, body, id, owner)
	if err != nil {
		return translate(err, "webhook outbox")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.Conflict, "the claim was lost")
	}
	return nil
}

// upsertDelivery writes the delivery's log row as of this attempt.
const upsertDelivery = `INSERT INTO webhook_deliveries (delivery_id, event_id, subscription_id, type, call_sid, state, attempts, last_status, last_error, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (delivery_id) DO UPDATE SET state = excluded.state, attempts = excluded.attempts, last_status = excluded.last_status,
  last_error = excluded.last_error, updated_at = excluded.updated_at`

// Finish records an attempt in one transaction: the log row, and the
// outbox row deleted (done) or rescheduled with its lease released
// (retrying). Nothing changes in the outbox if owner no longer holds the
// row (its lease ended and another instance took it).
func (s *WebhookStore) Finish(ctx context.Context, p webhooks.Pending, owner string, o webhooks.Outcome) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if o.State == webhooks.StateRetrying {
			res, err = tx.ExecContext(ctx, `UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = $1, lease_owner = '', lease_until = 0
WHERE id = $2 AND lease_owner = $3`, Millis(o.NextAttempt), p.ID, owner)
		} else {
			res, err = tx.ExecContext(ctx, `DELETE FROM webhook_outbox WHERE id = $1 AND lease_owner = $2`, p.ID, owner)
		}
		if err != nil {
			return translate(err, "webhook outbox")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // no longer ours: the holder records its own attempt
		}
		if _, err := tx.ExecContext(ctx, upsertDelivery, p.DeliveryID, p.EventID, p.SubscriptionID, p.Type, p.CallSID, o.State,
			p.Attempts+1, o.Status, o.Error, Millis(p.CreatedAt), Millis(o.At)); err != nil {
			return translate(err, "webhook delivery log")
		}
		if o.State != webhooks.StateDisabled {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_subscriptions SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL`, Millis(o.At), p.SubscriptionID); err != nil {
			return translate(err, "webhook")
		}
		// The subscription's other deliveries will not be sent: logged as
		// dropped so the log says where they went.
		if _, err := tx.ExecContext(ctx, logDroppedSQL(`o.subscription_id = $3`), webhooks.StateDropped, Millis(o.At), p.SubscriptionID); err != nil {
			return translate(err, "webhook delivery log")
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM webhook_outbox WHERE subscription_id = $1`, p.SubscriptionID)
		return translate(err, "webhook outbox")
	})
}

// Release gives back claims not attempted.
func (s *WebhookStore) Release(ctx context.Context, owner string, ids []int64) error {
	for _, id := range ids {
		if _, err := s.db.write(ctx, `UPDATE webhook_outbox SET lease_owner = '', lease_until = 0 WHERE id = $1 AND lease_owner = $2`, id, owner); err != nil {
			return translate(err, "webhook outbox")
		}
	}
	return nil
}

// OutboxStats returns the rows waiting and the oldest one's creation.
func (s *WebhookStore) OutboxStats(ctx context.Context) (int64, time.Time, error) {
	var n int64
	var oldest sql.NullInt64
	if err := s.db.SQL.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at) FROM webhook_outbox`).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, translate(err, "webhook outbox")
	}
	if !oldest.Valid {
		return n, time.Time{}, nil
	}
	return n, FromMillis(oldest.Int64), nil
}

// DeleteDeliveriesBefore trims the delivery log (retention: 7 days).
func (s *WebhookStore) DeleteDeliveriesBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.db.write(ctx, `DELETE FROM webhook_deliveries WHERE updated_at < $1`, Millis(t))
	if err != nil {
		return 0, translate(err, "webhook delivery log")
	}
	return res.RowsAffected()
}
