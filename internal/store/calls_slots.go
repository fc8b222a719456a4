package store

import (
	"context"
	"database/sql"
	"time"
)

// freeStaleSlots releases the slots of calls that no longer hold one: an
// accepted call whose stream never started (created at or before the
// first cutoff) or whose stream started so long ago that it outlived the
// longest call (answered at or before the second), so a lost status
// callback cannot leak a slot forever. The partial index calls_active
// keeps it to the live calls; the triggers of migration 00700 keep the
// counter in step.
const freeStaleSlots = `UPDATE calls SET active = 0
WHERE active = 1 AND ((answered_at IS NULL AND created_at <= $1) OR (answered_at IS NOT NULL AND answered_at <= $2))`

// FreeStaleSlots frees the capacity slots of calls created at or before
// pendingBefore that never started a stream, and of calls whose stream
// started at or before liveBefore, and returns how many it freed. It is
// the background sweep's query (voice.SlotSweeper): admissions read the
// counter only. On PostgreSQL the counter row's lock orders it with the
// admissions of every instance; on SQLite it takes the writer lock like
// any write.
func (s *CallStore) FreeStaleSlots(ctx context.Context, pendingBefore, liveBefore time.Time) (int64, error) {
	if s.db.Engine == Postgres {
		return s.freeStaleSlotsPostgres(ctx, pendingBefore, liveBefore)
	}
	var freed int64
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, freeStaleSlots, Millis(pendingBefore), Millis(liveBefore))
		if err != nil {
			return translate(err, "call capacity")
		}
		if freed, err = res.RowsAffected(); err != nil {
			return translate(err, "call capacity")
		}
		return nil
	})
	return freed, err
}

// freeStaleSlotsPostgres frees stale slots one capacity shard at a time,
// in shard order, in one transaction: each statement locks the one shard
// whose calls it frees, so the sweep takes shards in the same order as an
// admission on the exact path and the two cannot deadlock. The shards
// with a stale slot are found first by a plain read (usually none).
func (s *CallStore) freeStaleSlotsPostgres(ctx context.Context, pendingBefore, liveBefore time.Time) (int64, error) {
	var shards []int
	rows, err := s.db.SQL.QueryContext(ctx, `SELECT DISTINCT capacity_shard FROM calls
WHERE active = 1 AND ((answered_at IS NULL AND created_at <= $1) OR (answered_at IS NOT NULL AND answered_at <= $2))
ORDER BY capacity_shard`, Millis(pendingBefore), Millis(liveBefore))
	if err != nil {
		return 0, translate(err, "call capacity")
	}
	for rows.Next() {
		var shard int
		if err := rows.Scan(&shard); err != nil {
			rows.Close()
			return 0, translate(err, "call capacity")
		}
		shards = append(shards, shard)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(shards) == 0 {
		return 0, translate(err, "call capacity")
	}
	var freed int64
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, shard := range shards {
			res, err := tx.ExecContext(ctx, freeStaleSlots+` AND capacity_shard = $3`, Millis(pendingBefore), Millis(liveBefore), shard)
			if err != nil {
				return translate(err, "call capacity")
			}
			n, err := res.RowsAffected()
			if err != nil {
				return translate(err, "call capacity")
			}
			freed += n
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return freed, nil
}
