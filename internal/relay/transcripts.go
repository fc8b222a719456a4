package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

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

	flushed chan struct{} // a sync marker, not a line: closed once the lines before it are stored
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

// transcriptWriter stores lines in the background, in batches, so a slow
// database never stalls a call's model reader. A full queue drops the line
// (and logs it): the live event has already gone out.
type transcriptWriter struct {
	store TranscriptStore
	log   *slog.Logger
	queue chan TranscriptLine
	done  chan struct{}
	once  sync.Once

	dropped atomic.Int64 // lines dropped for a full queue
	refused atomic.Int64 // lines the store refused (and dropped)
}

func newTranscriptWriter(store TranscriptStore, log *slog.Logger) *transcriptWriter {
	w := &transcriptWriter{store: store, log: log, queue: make(chan TranscriptLine, 1024), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *transcriptWriter) add(l TranscriptLine) {
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
	batch := make([]TranscriptLine, 0, 64)
	var marks []chan struct{}
	for l := range w.queue {
		batch, marks = takeLine(batch[:0], marks[:0], l)
	more:
		for len(batch) < cap(batch) {
			select {
			case l, ok := <-w.queue:
				if !ok {
					break more
				}
				batch, marks = takeLine(batch, marks, l)
			default:
				break more
			}
		}
		if len(batch) > 0 {
			w.flush(batch)
		}
		for _, m := range marks {
			close(m)
		}
		clear(batch) // personal text does not linger
		clear(marks)
	}
}

// takeLine adds a queued item to the batch, or to the sync markers to
// release once the batch is stored.
func takeLine(batch []TranscriptLine, marks []chan struct{}, l TranscriptLine) ([]TranscriptLine, []chan struct{}) {
	if l.flushed != nil {
		return batch, append(marks, l.flushed)
	}
	return append(batch, l), marks
}

// sync waits until every line queued before it has been handed to the
// store (or ctx ends).
func (w *transcriptWriter) sync(ctx context.Context) {
	if w.store == nil {
		return
	}
	m := make(chan struct{})
	select {
	case w.queue <- TranscriptLine{flushed: m}:
	case <-ctx.Done():
		return
	}
	select {
	case <-m:
	case <-ctx.Done():
	}
}

// flush stores one batch. A panic in the store (a driver fault) loses this
// batch only: it is logged redacted and the writer goes on, so the
// transcripts of every other call keep being stored.
func (w *transcriptWriter) flush(batch []TranscriptLine) {
	defer func() {
		if v := recover(); v != nil {
			panics.Log(w.log, "panic contained", "relay", v, false, "where", "transcript_writer", "lines", len(batch))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.store.InsertTranscripts(ctx, batch); err != nil {
		var d DroppedLinesError
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
