package audit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/voiceagent/voiceagent/internal/panics"
)

// RetentionEvery is how often the retention job runs.
const RetentionEvery = 24 * time.Hour

// PurgeFunc deletes the rows of one table older than before and returns
// how many went.
type PurgeFunc func(ctx context.Context, before time.Time) (int64, error)

// Target is one table the retention job keeps trimmed.
type Target struct {
	Name  string        // table name, for the log and the audit row
	Keep  time.Duration // rows older than this are deleted
	Purge PurgeFunc
}

// Retention deletes old rows (audit events after AUDIT_RETENTION_DAYS,
// transcripts after TRANSCRIPT_RETENTION_DAYS, ...) once at start and
// then every RetentionEvery, until Stop.
type Retention struct {
	log     *slog.Logger
	rec     *Recorder
	targets []Target
	now     func() time.Time
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// NewRetention returns a job over targets; Start runs it periodically.
func NewRetention(log *slog.Logger, rec *Recorder, targets ...Target) *Retention {
	return &Retention{log: log.With("component", "retention"), rec: rec, targets: targets, now: time.Now, cancel: func() {}}
}

// Start runs the job now and then every interval, in the background,
// until Stop.
func (r *Retention) Start(every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			r.RunOnce(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// RunOnce purges every target now and, when anything was deleted or
// failed, records one resource_cleanup audit event with the counts. A failing target is logged and the
// others still run.
func (r *Retention) RunOnce(ctx context.Context) map[string]int64 {
	purged := make(map[string]int64, len(r.targets))
	detail := map[string]any{}
	for _, t := range r.targets {
		if ctx.Err() != nil {
			return purged
		}
		cutoff := r.now().Add(-t.Keep)
		n, err := r.purge(ctx, t, cutoff)
		if err != nil {
			r.log.Error("retention purge failed", "table", t.Name, "err", err)
			detail[t.Name] = "failed"
			continue
		}
		purged[t.Name] = n
		detail[t.Name] = n
		if n > 0 {
			r.log.Info("retention purge", "table", t.Name, "rows", n, "older_than", cutoff.UTC().Format(time.RFC3339))
		}
	}
	if changed := len(purged) < len(r.targets) || anyPositive(purged); changed {
		r.rec.Record(Event{Type: TypeResourceCleanup, Actor: "retention", Detail: map[string]any{"purged": detail}})
	}
	return purged
}

// errPurgePanicked stands for a purge that panicked (reported by purge).
var errPurgePanicked = errors.New("purge panicked")

// purge runs one target's purge with its own deadline. A panic (a store
// or driver fault) is contained: logged (redacted, no stack), recorded as
// error_occurred, and the target counted as failed, so neither the other
// tables nor the process (and its live calls) go down with it.
func (r *Retention) purge(ctx context.Context, t Target, cutoff time.Time) (n int64, err error) {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, errPurgePanicked
			panics.Log(r.log, "panic contained", "retention", v, false, "table", t.Name)
			r.rec.Record(Event{Type: TypeError, Severity: Warning, Actor: "retention",
				Detail: map[string]any{"source": "panic", "where": "retention", "table": t.Name, "message": panics.Message(v)}})
		}
	}()
	return t.Purge(pctx, cutoff)
}

// Stop ends the job and waits for a running purge to finish.
func (r *Retention) Stop() {
	r.cancel()
	r.wg.Wait()
}

func anyPositive(m map[string]int64) bool {
	for _, n := range m {
		if n > 0 {
			return true
		}
	}
	return false
}
