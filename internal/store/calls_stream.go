package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/voiceagent/voiceagent/internal/voice"
)

// ClaimStreamSlot makes sure an accepted call holds a capacity slot when
// its media stream starts. A call that waited so long that its pending
// slot was freed as stale is re-admitted under the cap (capacity nil: no
// cap); a call that ended, was not accepted or is unknown, or finds every
// slot taken, is refused (false).
//
// A re-admitted call is marked answered at once (answered_at = at), so the
// next admission does not take it for a stale pending slot again before
// the relay records the stream's start.
func (s *CallStore) ClaimStreamSlot(ctx context.Context, callSID string, capacity *voice.Capacity, at time.Time) (bool, error) {
	var granted bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var active int
		var decision string
		var ended, transferred sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT active, decision, ended_at, transferred_at FROM calls WHERE call_sid = $1`, callSID).
			Scan(&active, &decision, &ended, &transferred)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return translate(err, "call")
		case decision != string(voice.Accept) || ended.Valid || transferred.Valid:
			return nil
		case active == 1:
			granted = true
			return nil
		}
		if s.db.Engine == Postgres {
			ok, err := s.reclaimSlotPostgres(ctx, tx, callSID, capacity, at)
			granted = ok
			return err
		}
		if capacity != nil {
			full, err := s.full(ctx, tx, capacity, &slotCount{})
			if err != nil || full {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE calls SET active = 1, answered_at = COALESCE(answered_at, $2), updated_at = $2
WHERE call_sid = $1 AND active = 0`, callSID, Millis(at)); err != nil {
			return translate(err, "call")
		}
		granted = true
		return nil
	})
	return granted && err == nil, err
}

// reclaimSlotPostgres gives a call back a slot on PostgreSQL: under every
// shard's lock (a rare path: only a call whose pending slot was swept), on
// the shard with the most room, unless max slots are taken.
func (s *CallStore) reclaimSlotPostgres(ctx context.Context, tx *sql.Tx, callSID string, capacity *voice.Capacity, at time.Time) (bool, error) {
	shards, err := lockAllShards(ctx, tx)
	if err != nil {
		return false, err
	}
	max := -1
	if capacity != nil {
		if shards.full(capacity.Max) {
			return false, nil
		}
		max = capacity.Max
	}
	res, err := tx.ExecContext(ctx, `UPDATE calls SET active = 1, capacity_shard = $3, answered_at = COALESCE(answered_at, $2), updated_at = $2
WHERE call_sid = $1 AND active = 0`, callSID, Millis(at), shards.pick(max))
	if err != nil {
		return false, translate(err, "call")
	}
	n, err := res.RowsAffected()
	return n == 1, translate(err, "call")
}
