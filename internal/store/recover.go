package store

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/voiceagent/voiceagent/internal/panics"
)

// panicReporter holds the function a contained panic of the store's own
// goroutines is reported to (set after Open, so atomic).
type panicReporter struct {
	fn atomic.Pointer[func(where string, v any)]
}

// SetPanicHandler sets what a panic contained in the store's background
// goroutines (the SQLite WAL checkpoint loop) is reported to; the app logs
// it redacted and records error_occurred. Until set, it is logged to
// slog's default logger, redacted and without a stack.
func (db *DB) SetPanicHandler(fn func(where string, v any)) { db.panics.fn.Store(&fn) }

func (p *panicReporter) report(where string, v any) {
	if fn := p.fn.Load(); fn != nil {
		(*fn)(where, v)
		return
	}
	panics.Log(slog.Default(), "panic contained", "store", v, false, "where", where)
}

// checkpointRestartAfter is the first wait before the checkpoint loop
// restarts after a panic; it doubles up to a minute, so a fault that
// panics on every checkpoint costs a report a minute, not four a second.
var checkpointRestartAfter = time.Second

// runCheckpoints runs checkpointLoop until Close, restarting it after a
// panic (a driver fault): without checkpoints the WAL (autocheckpoint is
// off) would grow without bound, and without the recover the panic would
// end the process and every live call.
func (db *DB) runCheckpoints() {
	defer close(db.checkpointsDone)
	wait := checkpointRestartAfter
	for !db.checkpointsContained() {
		select {
		case <-db.stopCheckpoints:
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

// checkpointsContained runs the loop; it reports false after a panic.
func (db *DB) checkpointsContained() (stopped bool) {
	defer func() {
		if v := recover(); v != nil {
			stopped = false
			db.panics.report("sqlite_checkpoint", v)
		}
	}()
	db.checkpointLoop()
	return true
}
