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
