package relay

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/voiceagent/voiceagent/internal/batch"
	"github.com/voiceagent/voiceagent/internal/panics"
	"github.com/voiceagent/voiceagent/internal/transcript"
)

// transcriptWriter stores lines in the background, in batches (a
// batch.Writer), so a slow database never stalls a call's model reader. A
// full queue drops the line (counted, and logged sampled): the live event
// has already gone out.
type transcriptWriter struct {
	store transcript.Store
	log   *slog.Logger
	w     *batch.Writer[transcript.Line]

	refused atomic.Int64 // lines the store refused (and dropped)
}

// newTranscriptWriter starts the writer; dropped counts lines a full queue
// dropped (nil: not counted in a metric).
func newTranscriptWriter(store transcript.Store, log *slog.Logger, dropped batch.Counter) *transcriptWriter {
	tw := &transcriptWriter{store: store, log: log}
	tw.w = batch.New(batch.Options[transcript.Line]{Write: tw.flush, QueueSize: 1024, MaxBatch: 64, Dropped: dropped,
		Full: tw.full, Panic: tw.panicked})
	return tw
}

func (tw *transcriptWriter) add(l transcript.Line) {
	if tw.store == nil {
		return
	}
	tw.w.Add(l)
}

// full logs a dropped line, sampled: the 1st, 2nd, 4th, 8th... drop is
// logged, with the count, so a flood of lines is not also a flood of log
// lines.
func (tw *transcriptWriter) full(l transcript.Line, _ bool, n int64) {
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
func (tw *transcriptWriter) flush(ctx context.Context, batch []transcript.Line) {
	if err := tw.store.InsertTranscripts(ctx, batch); err != nil {
		var d transcript.DroppedLinesError
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
