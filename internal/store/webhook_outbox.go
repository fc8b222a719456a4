package store

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/voice"
	"github.com/voiceagent/voiceagent/internal/webhooks"
)

// The webhook outbox is written here, by the statements that cause its
// events, inside their transactions (issue 15: an event is never lost
// between a state change and its delivery):
//
//   - call.started / call.refused: the admission that stores a new call
//     (admitInTx on SQLite; on PostgreSQL the one-statement batch,
//     admitAllPostgres's batch and admitEachPostgres); for an outbound
//     call, call.started only, by ConfirmOutbound once Twilio has given
//     its CallSid;
//   - call.ended: the statement that first sets a call's ended_at
//     (MarkCallEnded, UpdateCallStatus), for accepted calls only;
//   - tool.failed / security.alert: the audit batch that writes the
//     tool_call (outcome other than ok) or security_alert row
//     (InsertAuditEvents). The audit recorder writes in the background,
//     so these events are exactly as durable as their audit rows.
//
// Each event becomes one row per enabled subscription that wants its
// type, selected in the same INSERT: with no subscription nothing is
// written.

// deliveryIDExpr is a delivery's id: the event's hex ($1) and the
// subscription's, the same on every retry.
const deliveryIDExpr = `'dlv_' || $1 || substr(s.id, 4)`

// enqueueSQL writes one event, a row per subscription that wants it. Its
// order key is the call's CallSid, so one call's events go in order;
// an event of no call (a security alert, a tool failure outside a call)
// is ordered by nothing but itself (its event id), so one such event
// being retried does not hold back the others.
const enqueueSQL = `INSERT INTO webhook_outbox (delivery_id, event_id, subscription_id, type, call_sid, order_key, payload, created_at, next_attempt_at)
SELECT ` + deliveryIDExpr + `, 'evt_' || $1, s.id, $2, $3, COALESCE(NULLIF($3, ''), 'evt_' || $1), $4, $5, $5
FROM webhook_subscriptions s WHERE s.disabled_at IS NULL AND (s.event_mask & $6) <> 0`

// enqueueCallEndedSQL writes call.ended for an accepted call; its data is
// the call detail, read when the delivery is first attempted, which is
// CallEndedSettle after the end ($4).
const enqueueCallEndedSQL = `INSERT INTO webhook_outbox (delivery_id, event_id, subscription_id, type, call_sid, order_key, payload, created_at, next_attempt_at)
SELECT ` + deliveryIDExpr + `, 'evt_' || $1, s.id, $2, c.call_sid, c.call_sid, '', $3, $4
FROM calls c JOIN webhook_subscriptions s ON s.disabled_at IS NULL AND (s.event_mask & $5) <> 0
WHERE c.call_sid = $6 AND c.decision = 'accept'`

// CallEndedSettle delays call.ended's first attempt: the relay stores
// transcript lines in the background, and the last lines of a call reach
// the database within milliseconds of its end; the event's data (the call
// detail, transcript included) is read at that first attempt.
const CallEndedSettle = 2 * time.Second

// enqueueBatchPostgres writes the events of a PostgreSQL admission batch
// in one statement.
const enqueueBatchPostgres = `INSERT INTO webhook_outbox (delivery_id, event_id, subscription_id, type, call_sid, order_key, payload, created_at, next_attempt_at)
SELECT 'dlv_' || e.hex || substr(s.id, 4), 'evt_' || e.hex, s.id, e.typ, e.sid, e.sid, e.payload, e.created, e.created
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) WITH ORDINALITY AS e(hex, typ, sid, payload, created, bit, n)
JOIN webhook_subscriptions s ON s.disabled_at IS NULL AND (s.event_mask & e.bit) <> 0
ORDER BY e.n, s.id`

// outboxHook is told after a commit that wrote outbox rows.
type outboxHook struct{ fn atomic.Pointer[func()] }

// SetOutboxHook registers fn, called (without blocking) after a
// transaction that wrote webhook events commits: the dispatcher of this
// instance wakes at once instead of at its next poll.
func (db *DB) SetOutboxHook(fn func()) { db.outbox.fn.Store(&fn) }

func (db *DB) outboxWritten() {
	if fn := db.outbox.fn.Load(); fn != nil {
		(*fn)()
	}
}

// enqueue writes one event in tx and reports whether any row was written.
func (db *DB) enqueue(ctx context.Context, tx *sql.Tx, typ, callSID, payload string, at time.Time) (bool, error) {
	st, err := db.txStmt(ctx, tx, enqueueSQL)
	if err != nil {
		return false, translate(err, "webhook outbox")
	}
	res, err := st.ExecContext(ctx, webhooks.NewEventHex(), typ, callSID, payload, Millis(at), webhooks.Bit(typ))
	if err != nil {
		return false, translate(err, "webhook outbox")
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// enqueueCallEnded writes call.ended for callSID in tx (accepted calls
// only) and reports whether any row was written.
func (db *DB) enqueueCallEnded(ctx context.Context, tx *sql.Tx, callSID string, at time.Time) (bool, error) {
	st, err := db.txStmt(ctx, tx, enqueueCallEndedSQL)
	if err != nil {
		return false, translate(err, "webhook outbox")
	}
	res, err := st.ExecContext(ctx, webhooks.NewEventHex(), webhooks.CallEnded, Millis(at), Millis(at.Add(CallEndedSettle)), webhooks.Bit(webhooks.CallEnded), callSID)
	if err != nil {
		return false, translate(err, "webhook outbox")
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// admissionEvent is the webhook event of a newly stored call:
// call.started when it was accepted, call.refused otherwise. An outbound
// call has none at its admission: it is stored under a provisional
// CallSid before Twilio is asked, and either gets Twilio's CallSid and its
// call.started in ConfirmOutbound or is deleted unplaced (ForgetOutbound).
func admissionEvent(c voice.Call) (typ, payload string, ok bool) {
	if directionOf(c) == voice.DirectionOutbound {
		return "", "", false
	}
	typ, payload = callEvent(c)
	return typ, payload, true
}

// callEvent is call.started (accepted) or call.refused of the stored call c.
func callEvent(c voice.Call) (typ, payload string) {
	typ = webhooks.CallRefused
	if c.Decision == voice.Accept {
		typ = webhooks.CallStarted
	}
	snap := webhooks.CallSnapshot{CallSID: c.CallSID, Direction: string(directionOf(c)), AgentID: c.AgentID, From: c.From, To: c.To,
		Status: c.Status, Decision: webhooks.Decision{Result: string(c.Decision), Rule: c.Reason}, ReceivedAt: c.CreatedAt.UTC()}
	return typ, snap.Payload()
}

// outboxOfInserted writes the webhook events of the calls a one-statement
// admission batch inserted (its CTE ins), aligned with its call arrays:
// $1 the CallSids, $13 the times, and admissionEvents' arrays $22-$25.
const outboxOfInserted = `INSERT INTO webhook_outbox (delivery_id, event_id, subscription_id, type, call_sid, order_key, payload, created_at, next_attempt_at)
  SELECT 'dlv_' || e.hex || substr(s.id, 4), 'evt_' || e.hex, s.id, e.typ, e.sid, e.sid, e.payload, e.created, e.created
  FROM unnest($1::text[], $22::text[], $23::text[], $24::text[], $13::bigint[], $25::bigint[]) WITH ORDINALITY AS e(sid, hex, typ, payload, created, bit, n)
  JOIN ins ON ins.call_sid = e.sid
  JOIN webhook_subscriptions s ON s.disabled_at IS NULL AND (s.event_mask & e.bit) <> 0
  ORDER BY e.n, s.id`

// eventColumns are the webhook events of newly stored calls, one array a
// column, in the calls' order.
type eventColumns struct {
	hex, typ, sid, payload []string
	created, bit           []int64
}

// admissionEvents is the webhook event of each call (admissionEvent); a
// call without one keeps its place in the arrays with a bit of 0.
func admissionEvents(calls []voice.Call) eventColumns {
	var e eventColumns
	for _, c := range calls {
		t, p, ok := admissionEvent(c)
		var bit int64 // no event: no subscription's mask matches 0
		if ok {
			bit = webhooks.Bit(t)
		}
		e.hex = append(e.hex, webhooks.NewEventHex())
		e.typ = append(e.typ, t)
		e.sid = append(e.sid, c.CallSID)
		e.payload = append(e.payload, p)
		e.created = append(e.created, Millis(c.CreatedAt))
		e.bit = append(e.bit, bit)
	}
	return e
}

// enqueueAdmissionsPostgres writes the events of a PostgreSQL admission
// batch (every call in it was new) in one statement.
func (db *DB) enqueueAdmissionsPostgres(ctx context.Context, tx *sql.Tx, calls []voice.Call) (bool, error) {
	e := admissionEvents(calls)
	res, err := tx.ExecContext(ctx, enqueueBatchPostgres, e.hex, e.typ, e.sid, e.payload, e.created, e.bit)
	if err != nil {
		return false, translate(err, "webhook outbox")
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// auditEvent is the webhook event an audit row causes, if any: a
// security_alert, or a tool_call whose outcome is not ok.
func auditEvent(ev audit.Event) (typ string, ok bool) {
	switch ev.Type {
	case audit.TypeSecurityAlert:
		return webhooks.SecurityAlert, true
	case audit.TypeToolCall:
		if o, _ := ev.Detail["outcome"].(string); o != "" && o != "ok" {
			return webhooks.ToolFailed, true
		}
	}
	return "", false
}
