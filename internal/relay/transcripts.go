package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/voiceagent/voiceagent/internal/batch"
	"github.com/voiceagent/voiceagent/internal/panics"
)

// Transcript roles.
const (
	RoleCaller = "caller"
	RoleAgent  = "agent"
)

// TranscriptLine is one utterance of a call: the caller's input
// transcription or the agent's output transcript.
type TranscriptLine struct {
	CallSID string
	Role    string // RoleCaller or RoleAgent
	Text    string
	Time    time.Time
}

// TranscriptStore persists transcript lines.
type TranscriptStore interface {
	// InsertTranscripts stores a batch of lines (of many calls). A line
	// the store refuses must not lose the others: it is dropped and
	// reported as a DroppedLinesError.
	InsertTranscripts(ctx context.Context, lines []TranscriptLine) error
}

// DroppedLinesError reports lines of a batch a TranscriptStore refused
// and dropped; the rest of the batch was stored.
type DroppedLinesError struct {
	N   int   // lines dropped
	Err error // the first refusal
}

func (e DroppedLinesError) Error() string {
	return fmt.Sprintf("%d transcript line(s) refused and dropped: %v", e.N, e.Err)
}

func (e DroppedLinesError) Unwrap() error { return e.Err }

// transcriptWriter stores lines in the background, in batches (a
// batch.Writer), so a slow database never stalls a call's model reader. A
// full queue drops the line (counted, and logged sampled): the live event
// has already gone out.
type transcriptWriter struct {
	store TranscriptStore
	log   *slog.Logger
	w     *batch.Writer[TranscriptLine]

	refused atomic.Int64 // lines the store refused (and dropped)
}

// newTranscriptWriter starts the writer; dropped counts lines a full queue
// dropped (nil: not counted in a metric).
func newTranscriptWriter(store TranscriptStore, log *slog.Logger, dropped batch.Counter) *transcriptWriter {
	tw := &transcriptWriter{store: store, log: log}
	tw.w = batch.New(batch.Options[TranscriptLine]{Write: tw.flush, QueueSize: 1024, MaxBatch: 64, Dropped: dropped,
		Full: tw.full, Panic: tw.panicked})
	return tw
}

func (tw *transcriptWriter) add(l TranscriptLine) {
	if tw.store == nil {
		return
	}
	tw.w.Add(l)
}

// full logs a dropped line, sampled: the 1st, 2nd, 4th, 8th... drop is
// logged, with the count, so a flood of lines is not also a flood of log
// lines.
func (tw *transcriptWriter) full(l TranscriptLine, _ bool, n int64) {
	if n&(n-1) == 0 {
		tw.log.Warn("transcript queue full; line not stored", "call_sid", l.CallSID, "dropped_total", n)
	}
}

// dropped reports the lines never stored for a full queue (or a store
// panic).
func (tw *transcriptWriter) dropped() int64 { return tw.w.Dropped() }

// panicked logs a store panic (a driver fault) redacted: it lost this
// batch only, and the writer goes on, so the transcripts of every other
// call keep being stored.
func (tw *transcriptWriter) panicked(v any, lost int) {
	panics.Log(tw.log, "panic contained", "relay", v, false, "where", "transcript_writer", "lines", lost)
}

// flush stores one batch.
func (tw *transcriptWriter) flush(ctx context.Context, batch []TranscriptLine) {
	if err := tw.store.InsertTranscripts(ctx, batch); err != nil {
		var d DroppedLinesError
		if errors.As(err, &d) {
			tw.refused.Add(int64(d.N))
			tw.log.Warn("transcript lines refused by the store and dropped", "lines", d.N, "batch", len(batch), "refused_total", tw.refused.Load(), "err", d.Err)
		} else {
			tw.log.Error("storing transcript lines failed", "lines", len(batch), "err", err)
		}
	}
}

// sync waits until every line queued before it has been handed to the
// store (or ctx ends), so a call's measurements and end are recorded after
// its transcript.
func (tw *transcriptWriter) sync(ctx context.Context) {
	if tw.store == nil {
		return
	}
	_ = tw.w.Flush(ctx) // ctx ending is the caller's bound; nothing to report
}

// close stores what is queued and stops the writer.
func (tw *transcriptWriter) close() { tw.w.Close() }
