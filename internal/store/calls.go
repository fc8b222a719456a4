package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/voice"
	"github.com/voiceagent/voiceagent/internal/webhooks"
)

// CallStore keeps incoming-call records and one-time stream tokens.
type CallStore struct{ db *DB }

// Calls returns the call-record store.
func (db *DB) Calls() *CallStore { return &CallStore{db: db} }

var (
	_ voice.CallStore  = (*CallStore)(nil)
	_ voice.TokenStore = (*CallStore)(nil)
)

const callColumns = `call_sid, account_sid, from_number, to_number, from_country, caller_name, decision, reason,
       status, active, duration_sec, twiml, idempotency_key, created_at, answered_at, ended_at,
       agent_id, direction, placed_by, end_reason, context`

type rowScanner interface{ Scan(dest ...any) error }

func scanCall(r rowScanner) (voice.Call, error) {
	var c voice.Call
	var decision, direction, endReason string
	var active, created int64
	var idem sql.NullString
	var dur, answered, ended sql.NullInt64
	if err := r.Scan(&c.CallSID, &c.AccountSID, &c.From, &c.To, &c.FromCountry, &c.CallerName, &decision, &c.Reason,
		&c.Status, &active, &dur, &c.TwiML, &idem, &created, &answered, &ended,
		&c.AgentID, &direction, &c.PlacedBy, &endReason, &c.Context); err != nil {
		return voice.Call{}, err
	}
	c.Direction = voice.Direction(direction)
	c.EndReason = voice.EndReason(endReason)
	c.Decision = voice.Decision(decision)
	c.Active = active == 1
	c.IdempotencyKey = idem.String
	c.CreatedAt = FromMillis(created)
	if dur.Valid {
		c.DurationSec = &dur.Int64
	}
	if answered.Valid {
		t := FromMillis(answered.Int64)
		c.AnsweredAt = &t
	}
	if ended.Valid {
		t := FromMillis(ended.Int64)
		c.EndedAt = &t
	}
	return c, nil
}

// findCallSQL looks a call up by CallSid or, for a retry that Twilio
// delivered with another CallSid, by its idempotency key.
const findCallSQL = `SELECT ` + callColumns + ` FROM calls
WHERE call_sid = $1 OR ($2 <> '' AND idempotency_key = $2)
ORDER BY created_at LIMIT 1`

// FindCall returns the call with this CallSid or first delivered with this
// idempotency key.
func (s *CallStore) FindCall(ctx context.Context, callSID, idempotencyKey string) (voice.Call, error) {
	c, err := scanCall(s.db.queryRow(ctx, findCallSQL, callSID, idempotencyKey))
	return c, translate(err, "call")
}

// AdmitCall stores c unless it is already stored, checking capacity in the
// same transaction when asked. A concurrent delivery of the same call
// that wins the insert is returned as the stored call. Admissions are
// group-committed (see admit.go); when too many wait already, the answer
// is apperr.Unavailable at once.
func (s *CallStore) AdmitCall(ctx context.Context, c voice.Call, capacity *voice.Capacity) (voice.Call, bool, error) {
	return s.db.admit(ctx, s, &admission{ctx: ctx, call: c, capacity: capacity})
}

// admission is one AdmitCall request and, once run, its outcome.
type admission struct {
	ctx      context.Context
	call     voice.Call
	capacity *voice.Capacity

	out      voice.Call
	created  bool
	outboxed bool // a webhook event was written with it
	ran      bool // decided by a batch (false: skipped, its context had ended)
}

func (s *CallStore) findInTx(ctx context.Context, tx *sql.Tx, callSID, idem string) (voice.Call, error) {
	st, err := s.db.txStmt(ctx, tx, findCallSQL)
	if err != nil {
		return voice.Call{}, translate(err, "call")
	}
	c, err := scanCall(st.QueryRowContext(ctx, callSID, idem))
	return c, translate(err, "call")
}

const insertCallSQL = `INSERT INTO calls (call_sid, account_sid, from_number, to_number, from_country, caller_name,
  decision, reason, status, active, twiml, idempotency_key, created_at, updated_at,
  agent_id, direction, placed_by, end_reason, context)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17, $18)
ON CONFLICT DO NOTHING`

// directionOf is the call's direction as stored: inbound unless set.
func directionOf(c voice.Call) voice.Direction {
	if c.Direction == "" {
		return voice.DirectionInbound
	}
	return c.Direction
}

// insert stores c; inserted is false when a call with its CallSid or
// idempotency key is already stored.
func (s *CallStore) insert(ctx context.Context, tx *sql.Tx, c voice.Call) (inserted bool, err error) {
	var idem any
	if c.IdempotencyKey != "" {
		idem = c.IdempotencyKey
	}
	active := 0
	if c.Active && c.Decision == voice.Accept {
		active = 1
	}
	st, err := s.db.txStmt(ctx, tx, insertCallSQL)
	if err != nil {
		return false, translate(err, "call")
	}
	res, err := st.ExecContext(ctx, c.CallSID, c.AccountSID, c.From, c.To, c.FromCountry, c.CallerName,
		string(c.Decision), c.Reason, c.Status, active, c.TwiML, idem, Millis(c.CreatedAt),
		c.AgentID, string(directionOf(c)), c.PlacedBy, string(c.EndReason), c.Context)
	if err != nil {
		return false, translate(err, "call")
	}
	n, err := res.RowsAffected()
	return n == 1, translate(err, "call")
}

// statusUpdateSet is the change a status callback makes; both engines'
// UpdateCallStatus statements share it so they cannot drift apart.
const statusUpdateSet = `UPDATE calls SET
  status = CASE WHEN ended_at IS NOT NULL AND $2 = 0 THEN status ELSE $1 END,
  duration_sec = COALESCE($3, duration_sec),
  status_seq = CASE WHEN $4 < 0 THEN status_seq ELSE $4 END,
  active = CASE WHEN $2 = 1 THEN 0 ELSE active END,
  ended_at = CASE WHEN $2 = 1 AND ended_at IS NULL THEN $5 ELSE ended_at END,
  end_reason = CASE WHEN $2 = 1 AND end_reason = '' THEN $7 ELSE end_reason END,
  updated_at = $5`

// updateStatusPostgres reads the row's ended_at as it was before the
// update in the same statement: the sub-select locks the row (FOR UPDATE),
// so a concurrent EndCall is either wholly before it (and seen) or
// waits for it. It also writes the call.ended webhook event (issue 15)
// when this callback ended an accepted call, in the same statement, so
// the status callback stays one round trip: $8 is the event's hex, $9
// the call.ended mask bit, $10 the first attempt (CallEndedSettle after
// $5).
const updateStatusPostgres = `WITH upd AS (` + statusUpdateSet + `
FROM (SELECT call_sid AS sid, ended_at AS was_ended FROM calls WHERE call_sid = $6 FOR UPDATE) old
WHERE call_sid = old.sid AND ($4 < 0 OR status_seq < $4)
RETURNING old.was_ended IS NULL AND ended_at IS NOT NULL AS ended, call_sid, decision),
ev AS (INSERT INTO webhook_outbox (delivery_id, event_id, subscription_id, type, call_sid, order_key, payload, created_at, next_attempt_at)
SELECT 'dlv_' || $8 || substr(s.id, 4), 'evt_' || $8, s.id, 'call.ended', upd.call_sid, upd.call_sid, '', $5, $10
FROM upd JOIN webhook_subscriptions s ON s.disabled_at IS NULL AND (s.event_mask & $9) <> 0
WHERE upd.ended AND upd.decision = 'accept'
RETURNING 1)
SELECT upd.ended, (SELECT COUNT(*) FROM ev) FROM upd`

// updateStatusSQLite is the same update; SQLite's RETURNING cannot see the
// old row, so the caller reads ended_at first in the same transaction.
const updateStatusSQLite = statusUpdateSet + `
WHERE call_sid = $6 AND ($4 < 0 OR status_seq < $4)`

// UpdateCallStatus applies a status callback unless a later one was
// applied; a final status ends the call and frees its slot. ended reports
// that this callback is what ended the call (it had no ended_at before),
// so the end is announced once whoever records it first. A final status
// records u.Reason as the end reason unless one is recorded already (the
// first end wins: a relay's end, a transfer, a refusal).
func (s *CallStore) UpdateCallStatus(ctx context.Context, u voice.StatusUpdate) (ended bool, err error) {
	final := 0
	if voice.FinalStatus(u.Status) {
		final = 1
	}
	var dur any
	if u.DurationSec != nil {
		dur = *u.DurationSec
	}
	args := []any{u.Status, final, dur, u.Sequence, Millis(u.At), u.CallSID, string(u.Reason)}
	if s.db.Engine == SQLite {
		return s.updateStatusSQLite(ctx, u.CallSID, final == 1, Millis(u.At), args)
	}
	var events int64
	args = append(args, webhooks.NewEventHex(), webhooks.Bit(webhooks.CallEnded), Millis(u.At.Add(CallEndedSettle)))
	err = s.db.writeRow(ctx, updateStatusPostgres, args, &ended, &events)
	if err == nil && events > 0 {
		s.db.outboxWritten()
	}
	if errors.Is(err, sql.ErrNoRows) {
		// Either unknown, or an older callback arriving late: only the
		// first is an error.
		_, err = s.FindCall(ctx, u.CallSID, "")
		return false, err
	}
	return ended, translate(err, "call")
}

// updateStatusSQLite is UpdateCallStatus on SQLite: read and update in one
// transaction under the writer lock, so nothing ends the call in between.
func (s *CallStore) updateStatusSQLite(ctx context.Context, callSID string, final bool, at int64, args []any) (ended bool, err error) {
	var wrote bool
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		read, err := s.db.txStmt(ctx, tx, `SELECT ended_at FROM calls WHERE call_sid = $1`)
		if err != nil {
			return translate(err, "call")
		}
		var was sql.NullInt64
		if err := read.QueryRowContext(ctx, callSID).Scan(&was); err != nil {
			return translate(err, "call")
		}
		upd, err := s.db.txStmt(ctx, tx, updateStatusSQLite)
		if err != nil {
			return translate(err, "call")
		}
		res, err := upd.ExecContext(ctx, args...)
		if err != nil {
			return translate(err, "call")
		}
		// No row changed: an older callback arriving late, not an error.
		n, _ := res.RowsAffected()
		ended = final && n > 0 && !was.Valid
		if ended {
			// Webhooks (issue 15): call.ended with the end itself.
			wrote, err = s.db.enqueueCallEnded(ctx, tx, callSID, FromMillis(at))
		}
		return err
	})
	if err == nil && wrote {
		s.db.outboxWritten()
	}
	return ended, err
}

// MarkStreamStarted records when the media stream started.
func (s *CallStore) MarkStreamStarted(ctx context.Context, callSID string, at time.Time) error {
	return s.exec(ctx, `UPDATE calls SET answered_at = COALESCE(answered_at, $1), updated_at = $1,
  status = CASE WHEN status IN ('ringing', 'queued') THEN 'in-progress' ELSE status END
WHERE call_sid = $2`, Millis(at), callSID)
}

func (s *CallStore) exec(ctx context.Context, q string, args ...any) error {
	res, err := s.db.write(ctx, q, args...)
	if err != nil {
		return translate(err, "call")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.NotFound, "call not found")
	}
	return nil
}

// PutStreamToken stores the call's token, replacing an unused one.
func (s *CallStore) PutStreamToken(ctx context.Context, t voice.StreamToken) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var used sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT used_at FROM stream_tokens WHERE call_sid = $1`, t.CallSID).Scan(&used)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return translate(err, "stream token")
		case used.Valid:
			return apperr.New(apperr.Conflict, "the call's stream token was already used")
		default:
			if _, err := tx.ExecContext(ctx, `DELETE FROM stream_tokens WHERE call_sid = $1`, t.CallSID); err != nil {
				return translate(err, "stream token")
			}
		}
		// No token for a call that has ended (in the same statement, so a
		// final status callback cannot slip in between).
		res, err := tx.ExecContext(ctx, `INSERT INTO stream_tokens (token_hash, call_sid, created_at, expires_at)
SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM calls WHERE call_sid = $2 AND ended_at IS NOT NULL)`,
			t.Hash, t.CallSID, Millis(t.CreatedAt), Millis(t.ExpiresAt))
		if err != nil {
			return translate(err, "stream token")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.Forbidden, "the call has ended")
		}
		return nil
	})
}

// RevokeStreamTokens deletes the call's unused stream tokens (its final
// status arrived: a token must not outlive its call).
func (s *CallStore) RevokeStreamTokens(ctx context.Context, callSID string) error {
	_, err := s.db.write(ctx, `DELETE FROM stream_tokens WHERE call_sid = $1 AND used_at IS NULL`, callSID)
	return translate(err, "stream token")
}

// UseStreamToken marks an unused, unexpired token of a call that has not
// ended used and returns its CallSid; one UPDATE, so two concurrent
// redemptions cannot both win.
func (s *CallStore) UseStreamToken(ctx context.Context, hash string, now time.Time) (string, error) {
	var callSID string
	err := s.db.writeRow(ctx, `UPDATE stream_tokens SET used_at = $1
WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1
  AND NOT EXISTS (SELECT 1 FROM calls WHERE calls.call_sid = stream_tokens.call_sid AND calls.ended_at IS NOT NULL)
RETURNING call_sid`, []any{Millis(now), hash}, &callSID)
	if err != nil {
		return "", translate(err, "stream token")
	}
	return callSID, nil
}
