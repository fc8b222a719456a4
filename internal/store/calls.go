package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// CallStore keeps incoming-call records and one-time stream tokens.
type CallStore struct{ db *DB }

// Calls returns the call-record store.
func (db *DB) Calls() *CallStore { return &CallStore{db: db} }

var (
	_ voice.CallStore  = (*CallStore)(nil)
	_ voice.TokenStore = (*CallStore)(nil)
)

// capacityLock is the PostgreSQL advisory-lock key that serialises
// admissions, so the active-call count holds across instances. SQLite
// transactions are already serialised (BEGIN IMMEDIATE).
const capacityLock = 0x766f6963 // "voic"

const callColumns = `call_sid, account_sid, from_number, to_number, from_country, caller_name, decision, reason,
       status, active, duration_sec, twiml, idempotency_key, created_at, answered_at, ended_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanCall(r rowScanner) (voice.Call, error) {
	var c voice.Call
	var decision string
	var active, created int64
	var idem sql.NullString
	var dur, answered, ended sql.NullInt64
	if err := r.Scan(&c.CallSID, &c.AccountSID, &c.From, &c.To, &c.FromCountry, &c.CallerName, &decision, &c.Reason,
		&c.Status, &active, &dur, &c.TwiML, &idem, &created, &answered, &ended); err != nil {
		return voice.Call{}, err
	}
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

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func findCall(ctx context.Context, q querier, callSID, idem string) (voice.Call, error) {
	c, err := scanCall(q.QueryRowContext(ctx, `SELECT `+callColumns+` FROM calls
WHERE call_sid = $1 OR ($2 <> '' AND idempotency_key = $2)
ORDER BY created_at LIMIT 1`, callSID, idem))
	return c, translate(err, "call")
}

// FindCall returns the call with this CallSid or first delivered with this
// idempotency key.
func (s *CallStore) FindCall(ctx context.Context, callSID, idempotencyKey string) (voice.Call, error) {
	return findCall(ctx, s.db.SQL, callSID, idempotencyKey)
}

// AdmitCall stores c unless it is already stored, checking capacity in the
// same transaction when asked.
func (s *CallStore) AdmitCall(ctx context.Context, c voice.Call, capacity *voice.Capacity) (voice.Call, bool, error) {
	var out voice.Call
	created := false
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if s.db.Engine == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(capacityLock)); err != nil {
				return translate(err, "call")
			}
		}
		existing, err := findCall(ctx, tx, c.CallSID, c.IdempotencyKey)
		if err == nil {
			out = existing
			return nil
		}
		if !apperr.Is(err, apperr.NotFound) {
			return err
		}
		if capacity != nil && c.Decision == voice.Accept {
			var n int
			err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM calls WHERE active = 1
  AND ((answered_at IS NULL AND created_at > $1) OR (answered_at IS NOT NULL AND answered_at > $2))`,
				Millis(capacity.PendingSince), Millis(capacity.LiveSince)).Scan(&n)
			if err != nil {
				return translate(err, "calls")
			}
			if n >= capacity.Max {
				c = capacity.Overflow
			}
		}
		if err := insertCall(ctx, tx, c); err != nil {
			return err
		}
		out, created = c, true
		return nil
	})
	if err != nil {
		return voice.Call{}, false, err
	}
	return out, created, nil
}

func insertCall(ctx context.Context, tx *sql.Tx, c voice.Call) error {
	var idem any
	if c.IdempotencyKey != "" {
		idem = c.IdempotencyKey
	}
	active := 0
	if c.Active && c.Decision == voice.Accept {
		active = 1
	}
	at := Millis(c.CreatedAt)
	_, err := tx.ExecContext(ctx, `INSERT INTO calls (call_sid, account_sid, from_number, to_number, from_country, caller_name,
  decision, reason, status, active, twiml, idempotency_key, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)`,
		c.CallSID, c.AccountSID, c.From, c.To, c.FromCountry, c.CallerName,
		string(c.Decision), c.Reason, c.Status, active, c.TwiML, idem, at)
	return translate(err, "call")
}

// UpdateCallStatus applies a status callback unless a later one was
// applied; a final status ends the call and frees its slot.
func (s *CallStore) UpdateCallStatus(ctx context.Context, u voice.StatusUpdate) error {
	final := 0
	if voice.FinalStatus(u.Status) {
		final = 1
	}
	var dur any
	if u.DurationSec != nil {
		dur = *u.DurationSec
	}
	at := Millis(u.At)
	res, err := s.db.SQL.ExecContext(ctx, `UPDATE calls SET
  status = CASE WHEN ended_at IS NOT NULL AND $2 = 0 THEN status ELSE $1 END,
  duration_sec = COALESCE($3, duration_sec),
  status_seq = CASE WHEN $4 < 0 THEN status_seq ELSE $4 END,
  active = CASE WHEN $2 = 1 THEN 0 ELSE active END,
  ended_at = CASE WHEN $2 = 1 AND ended_at IS NULL THEN $5 ELSE ended_at END,
  updated_at = $5
WHERE call_sid = $6 AND ($4 < 0 OR status_seq < $4)`,
		u.Status, final, dur, u.Sequence, at, u.CallSID)
	if err != nil {
		return translate(err, "call")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// Either unknown, or an older callback arriving late: only the
		// first is an error.
		if _, err := s.FindCall(ctx, u.CallSID, ""); err != nil {
			return err
		}
	}
	return nil
}

// MarkStreamStarted records when the media stream started.
func (s *CallStore) MarkStreamStarted(ctx context.Context, callSID string, at time.Time) error {
	return s.exec(ctx, `UPDATE calls SET answered_at = COALESCE(answered_at, $1), updated_at = $1,
  status = CASE WHEN status IN ('ringing', 'queued') THEN 'in-progress' ELSE status END
WHERE call_sid = $2`, Millis(at), callSID)
}

// MarkCallEnded records the end and frees the call's slot.
func (s *CallStore) MarkCallEnded(ctx context.Context, callSID string, at time.Time) error {
	return s.exec(ctx, `UPDATE calls SET active = 0, ended_at = COALESCE(ended_at, $1), updated_at = $1
WHERE call_sid = $2`, Millis(at), callSID)
}

func (s *CallStore) exec(ctx context.Context, q string, args ...any) error {
	res, err := s.db.SQL.ExecContext(ctx, q, args...)
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
		_, err = tx.ExecContext(ctx, `INSERT INTO stream_tokens (token_hash, call_sid, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			t.Hash, t.CallSID, Millis(t.CreatedAt), Millis(t.ExpiresAt))
		return translate(err, "stream token")
	})
}

// UseStreamToken marks an unused, unexpired token used and returns its
// CallSid; one UPDATE, so two concurrent redemptions cannot both win.
func (s *CallStore) UseStreamToken(ctx context.Context, hash string, now time.Time) (string, error) {
	var callSID string
	err := s.db.SQL.QueryRowContext(ctx, `UPDATE stream_tokens SET used_at = $1
WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1
RETURNING call_sid`, Millis(now), hash).Scan(&callSID)
	if err != nil {
		return "", translate(err, "stream token")
	}
	return callSID, nil
}
