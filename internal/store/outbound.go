package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/voiceagent/voiceagent/internal/outbound"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// OutboundStore keeps the rate counters of outbound calls
// (outbound_attempts, migration 01600) and the call records' outbound
// steps. The records themselves are rows of calls, written through
// CallStore.
type OutboundStore struct {
	db    *DB
	calls *CallStore
}

// Outbound returns the outbound-call store.
func (db *DB) Outbound() *OutboundStore { return &OutboundStore{db: db, calls: db.Calls()} }

var _ outbound.Store = (*OutboundStore)(nil)

// outboundKeep is how long an attempt row is kept: the longest window
// counted (a day).
const outboundKeep = 24 * time.Hour

// ReserveAttempt counts the attempts in each window and, when every limit
// has room, adds one for destHash, in one transaction. On PostgreSQL the
// transaction first locks outbound_rate_lock's one row, so the counting
// and the insert of several instances take turns (a count never misses
// an attempt committed by another instance in between); on SQLite the
// writer lock does the same. Rows older than a day are deleted on the
// way. A refusal is apperr.RateLimited carried in an *outbound.RateError
// with the time the window frees.
func (s *OutboundStore) ReserveAttempt(ctx context.Context, destHash string, l outbound.Limits, now time.Time) (int64, error) {
	var id int64
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if s.db.Engine == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT id FROM outbound_rate_lock WHERE id = 1 FOR UPDATE`); err != nil {
				return translate(err, "outbound rate")
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbound_attempts WHERE created_at < $1`, Millis(now.Add(-outboundKeep))); err != nil {
			return translate(err, "outbound rate")
		}
		type window struct {
			limit int
			span  time.Duration
			dest  bool
			which string
		}
		for _, w := range []window{
			{l.PerDestination, l.DestinationWindow, true, outbound.LimitDestination},
			{l.PerMinute, time.Minute, false, outbound.LimitMinute},
			{l.PerDay, 24 * time.Hour, false, outbound.LimitDay},
		} {
			if w.limit <= 0 {
				continue
			}
			q := `SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM outbound_attempts WHERE created_at > $1`
			args := []any{Millis(now.Add(-w.span))}
			if w.dest {
				q += ` AND dest_hash = $2`
				args = append(args, destHash)
			}
			var n, oldest int64
			if err := tx.QueryRowContext(ctx, q, args...).Scan(&n, &oldest); err != nil {
				return translate(err, "outbound rate")
			}
			if n >= int64(w.limit) {
				// The window has room again once its oldest attempt
				// leaves it (for a limit above one, that is the
				// earliest it can; later attempts may keep it full).
				return &outbound.RateError{Limit: w.which, RetryAt: FromMillis(oldest).Add(w.span)}
			}
		}
		return tx.QueryRowContext(ctx, `INSERT INTO outbound_attempts (dest_hash, created_at) VALUES ($1, $2) RETURNING id`,
			destHash, Millis(now)).Scan(&id)
	})
	return id, err
}

// ReleaseAttempt takes back a reservation whose call was not placed (no
// capacity, Twilio refused), so it does not count against the limits.
func (s *OutboundStore) ReleaseAttempt(ctx context.Context, id int64) error {
	_, err := s.db.write(ctx, `DELETE FROM outbound_attempts WHERE id = $1`, id)
	return translate(err, "outbound rate")
}

// AdmitOutbound stores the record of an outbound call under a provisional
// CallSid, taking a capacity slot under the same cap as incoming calls
// (CallStore.AdmitCall). admitted is false when the cap was full: nothing
// is kept then.
func (s *OutboundStore) AdmitOutbound(ctx context.Context, c voice.Call, capacity *voice.Capacity) (bool, error) {
	stored, _, err := s.calls.AdmitCall(ctx, c, capacity)
	if err != nil {
		return false, err
	}
	if stored.Decision != voice.Accept {
		return false, s.ForgetOutbound(ctx, stored.CallSID)
	}
	return true, nil
}

// ConfirmOutbound gives the record its Twilio CallSid (CallStore, the
// calls table's one writer).
func (s *OutboundStore) ConfirmOutbound(ctx context.Context, provisional, callSID, status string, at time.Time) error {
	return s.calls.ConfirmOutbound(ctx, provisional, callSID, status, at)
}

// ForgetOutbound deletes the record of a call that was never placed
// (CallStore).
func (s *OutboundStore) ForgetOutbound(ctx context.Context, provisional string) error {
	return s.calls.ForgetOutbound(ctx, provisional)
}
