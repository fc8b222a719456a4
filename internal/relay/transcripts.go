package relay

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voiceagent/voiceagent/internal/panics"
	"github.com/voiceagent/voiceagent/internal/transcript"
)

// transcriptWriter stores lines in the background, in batches, so a slow
// database never stalls a call's model reader. A full queue drops the line
// (and logs it): the live event has already gone out.
type transcriptWriter struct {
	store transcript.Store
	log   *slog.Logger
	queue chan transcript.Line
	done  chan struct{}
	once  sync.Once

	dropped atomic.Int64 // lines dropped for a full queue
	refused atomic.Int64 // lines the store refused (and dropped)
}

func newTranscriptWriter(store transcript.Store, log *slog.Logger) *transcriptWriter {
	w := &transcriptWriter{store: store, log: log, queue: make(chan transcript.Line, 1024), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *transcriptWriter) add(l transcript.Line) {
	if w.store == nil {
		return
	}
	select {
	case w.queue <- l:
	default:
		// Sampled: the 1st, 2nd, 4th, 8th... drop is logged, with the
		// count, so a flood of lines is not also a flood of log lines.
		if n := w.dropped.Add(1); n&(n-1) == 0 {
			w.log.Warn("transcript queue full; line not stored", "call_sid", l.CallSID, "dropped_total", n)
		}
	}
}

func (w *transcriptWriter) run() {
	defer close(w.done)
	batch := make([]transcript.Line, 0, 64)
	for l := range w.queue {
		batch = append(batch[:0], l)
	more:
		for len(batch) < cap(batch) {
			select {
			case l, ok := <-w.queue:
				if !ok {
					break more
				}
				batch = append(batch, l)
			default:
				break more
			}
		}
		w.flush(batch)
		clear(batch) // personal text does not linger
	}
}

// flush stores one batch. A panic in the store (a driver fault) loses this
// batch only: it is logged redacted and the writer goes on, so the
// transcripts of every other call keep being stored.
func (w *transcriptWriter) flush(batch []transcript.Line) {
	defer func() {
		if v := recover(); v != nil {
			panics.Log(w.log, "panic contained", "relay", v, false, "where", "transcript_writer", "lines", len(batch))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.store.InsertTranscripts(ctx, batch); err != nil {
		var d transcript.DroppedLinesError
		if errors.As(err, &d) {
			w.refused.Add(int64(d.N))
			w.log.Warn("transcript lines refused by the store and dropped", "lines", d.N, "batch", len(batch), "refused_total", w.refused.Load(), "err", d.Err)
		} else {
			w.log.Error("storing transcript lines failed", "lines", len(batch), "err", err)
		}
	}
}

// close stores what is queued and stops the writer.
func (w *transcriptWriter) close() {
	w.once.Do(func() { close(w.queue) })
	<-w.done
}
