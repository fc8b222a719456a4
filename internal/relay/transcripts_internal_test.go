package relay

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/voiceagent/voiceagent/internal/logging"
)

// panickyTranscripts panics on its first batch and stores the rest.
type panickyTranscripts struct {
	mu     sync.Mutex
	calls  int
	stored []TranscriptLine
}

func (p *panickyTranscripts) InsertTranscripts(_ context.Context, lines []TranscriptLine) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.calls++; p.calls == 1 {
		panic("injected test panic in InsertTranscripts")
	}
	p.stored = append(p.stored, lines...)
	return nil
}

// TestTranscriptWriterContainsAPanic: a store that panics on one batch
// loses that batch only; the writer goes on storing every later line
// (before, the panic ended the process and every live call with it).
func TestTranscriptWriterContainsAPanic(t *testing.T) {
	st := &panickyTranscripts{}
	w := newTranscriptWriter(st, logging.Discard(), nil)
	w.add(TranscriptLine{CallSID: "CA00000000000000000000000000000001", Role: RoleCaller, Text: "first"})
	// Wait until the first batch has been handed over (and panicked).
	for done := false; !done; {
		st.mu.Lock()
		done = st.calls > 0
		st.mu.Unlock()
		runtime.Gosched()
	}
	w.add(TranscriptLine{CallSID: "CA00000000000000000000000000000002", Role: RoleAgent, Text: "second"})
	w.close()
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.stored) != 1 || st.stored[0].Text != "second" {
		t.Fatalf("stored = %+v, want the line after the panic", st.stored)
	}
}
