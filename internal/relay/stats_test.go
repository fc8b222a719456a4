package relay

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/calllog"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/logging"
)

// recStats records saved measurements and how many transcript lines were
// stored when each save came.
type recStats struct {
	lines *recTranscripts

	mu      sync.Mutex
	saved   []calllog.Stats
	linesAt []int
}

func (r *recStats) SaveCallStats(_ context.Context, st calllog.Stats) error {
	n := len(r.lines.all())
	r.mu.Lock()
	defer r.mu.Unlock()
	r.saved = append(r.saved, st)
	r.linesAt = append(r.linesAt, n)
	return nil
}

func (r *recStats) get(callSID string) (calllog.Stats, int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, st := range r.saved {
		if st.CallSID == callSID {
			return st, r.linesAt[i], true
		}
	}
	return calllog.Stats{}, 0, false
}

// TestCallStatsRecorded: a call's measurements are stored once, at its
// end, after its transcript lines: the first agent audio, the latency of
// an answer to the caller's speech, the tools the model called (one the
// agent does not have is refused) and the model's token usage summed
// over its responses.
func TestCallStatsRecorded(t *testing.T) {
	h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{InputTokens: 100, OutputTokens: 7}})
	h.dir.add("Alice Example", "+14155550100")
	h.rt.NextResponseCallsTool("launch_rockets", `{}`) // the greeting's turn: refused
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "the refused tool's output", s.WaitFor, func() bool { return len(s.FunctionOutputs()) == 1 })
	waitFor(t, "the answer after it", s.WaitFor, func() bool {
		r := s.Responses()
		return len(r) == 2 && r[1].Status == "completed"
	})
	h.rt.NextResponseCallsTool("lookup_contact", `{"name":"alice example"}`)
	s.ForceSpeechStarted() // the caller speaks; the answer is a tool call
	s.ForceSpeechStopped()
	waitFor(t, "the lookup's output and the answer after it", s.WaitFor, func() bool {
		r := s.Responses()
		return len(s.FunctionOutputs()) == 2 && len(r) == 4 && r[3].Status == "completed"
	})
	s.ForceSpeechStarted() // and again: this answer is audio
	s.ForceSpeechStopped()
	// Greeting (the refused tool), its answer, the lookup, its answer,
	// the second answer.
	waitFor(t, "five finished responses", s.WaitFor, func() bool {
		r := s.Responses()
		return len(r) == 5 && r[4].Status == "completed"
	})
	// A caller line sent after the last response.done: once the relay has
	// published it, it has read that response.done too.
	s.CallerTranscript("item_last", "Thanks, bye.")
	waitTrue(t, "the last caller line", func() bool {
		for _, ev := range h.events.ofType(events.TranscriptLine) {
			if ev.Data["text"] == "Thanks, bye." {
				return true
			}
		}
		return false
	})
	if _, _, ok := h.stats.get(c.CallSid()); ok {
		t.Fatal("measurements stored before the call ended")
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, "the measurements", func() bool { _, _, ok := h.stats.get(c.CallSid()); return ok })
	st, linesAtSave, _ := h.stats.get(c.CallSid())
	if got := len(h.lines.all()); linesAtSave != got || got == 0 {
		t.Fatalf("%d transcript lines stored when the measurements were, %d in the end: the lines must come first", linesAtSave, got)
	}
	if st.Latency.FirstAudioMs == nil || *st.Latency.FirstAudioMs < 1 {
		t.Fatalf("first audio = %v, want a positive time", st.Latency.FirstAudioMs)
	}
	// The speech before the tool call is answered by the audio after the
	// tool's result; the second speech by its own answer.
	if st.Responses != 2 || st.Latency.ResponseP50Ms == nil || st.Latency.ResponseMaxMs == nil || *st.Latency.ResponseMaxMs < *st.Latency.ResponseP50Ms {
		t.Fatalf("responses %d, p50 %v, max %v", st.Responses, st.Latency.ResponseP50Ms, st.Latency.ResponseMaxMs)
	}
	if len(st.Tools) != 2 || st.Tools[0].Name != "launch_rockets" || st.Tools[0].Outcome != calllog.ToolRefused ||
		st.Tools[1].Name != "lookup_contact" || st.Tools[1].Outcome != calllog.ToolOK || st.Tools[1].At.IsZero() {
		t.Fatalf("tools = %+v", st.Tools)
	}
	n := int64(len(s.Responses()))
	if st.Usage != (calllog.Usage{InputTokens: 100 * n, OutputTokens: 7 * n}) {
		t.Fatalf("usage = %+v, want the sum over %d responses", st.Usage, n)
	}
}

// gatedTranscripts stores lines only once its gate opens; entered is
// told when the first batch arrives.
type gatedTranscripts struct {
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
	mu      sync.Mutex
	stored  []TranscriptLine
}

func (g *gatedTranscripts) InsertTranscripts(ctx context.Context, lines []TranscriptLine) error {
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stored = append(g.stored, lines...)
	return nil
}

// TestTranscriptWriterSync: sync returns only once the lines queued
// before it are stored (a call's measurements, and its end, are recorded
// after its transcript), and sync markers never reach the store.
func TestTranscriptWriterSync(t *testing.T) {
	st := &gatedTranscripts{gate: make(chan struct{}), entered: make(chan struct{})}
	w := newTranscriptWriter(st, logging.Discard())
	defer w.close()
	w.add(TranscriptLine{CallSID: "CA1", Role: RoleAgent, Text: "one"})
	<-st.entered // the writer holds "one" at the closed gate
	w.add(TranscriptLine{CallSID: "CA1", Role: RoleCaller, Text: "two"})
	storedAtSync := make(chan int, 1)
	go func() {
		w.sync(ctx(t))
		st.mu.Lock()
		storedAtSync <- len(st.stored)
		st.mu.Unlock()
	}()
	waitTrue(t, "the sync marker queued behind the second line", func() bool { return len(w.queue) == 2 })
	close(st.gate)
	if n := <-storedAtSync; n != 2 {
		t.Fatalf("sync returned with %d lines stored, want 2", n)
	}
	w.add(TranscriptLine{CallSID: "CA1", Role: RoleAgent, Text: "three"})
	w.sync(ctx(t))
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, l := range st.stored {
		if l.Text == "" || l.flushed != nil {
			t.Fatalf("a sync marker reached the store: %+v", st.stored)
		}
	}
	if len(st.stored) != 3 {
		t.Fatalf("stored %d lines, want 3", len(st.stored))
	}
}

// TestCallStatsLatency: an answer's latency runs from the last
// speech_stopped before it; audio with no speech before it (the
// greeting, an answer to a tool result) adds none; the median is the
// lower middle value.
func TestCallStatsLatency(t *testing.T) {
	var s callStats
	t0 := time.Unix(1000, 0)
	s.agentAudio(t0) // before the stream started: nothing
	s.started(t0)
	s.agentAudio(t0.Add(300 * time.Millisecond)) // the greeting
	s.callerStopped(t0.Add(2 * time.Second))
	s.callerStopped(t0.Add(3 * time.Second)) // the caller went on
	s.agentAudio(t0.Add(3400 * time.Millisecond))
	s.agentAudio(t0.Add(3500 * time.Millisecond)) // same answer, more audio
	s.callerStopped(t0.Add(5 * time.Second))
	s.agentAudio(t0.Add(5900 * time.Millisecond))
	s.callerStopped(t0.Add(7 * time.Second))
	s.agentAudio(t0.Add(7200 * time.Millisecond))
	s.callerStopped(t0.Add(9 * time.Second)) // never answered
	st := s.snapshot("CA1", t0)
	if *st.Latency.FirstAudioMs != 300 || st.Responses != 3 || *st.Latency.ResponseP50Ms != 400 || *st.Latency.ResponseMaxMs != 900 {
		t.Fatalf("first %d, responses %d, p50 %d, max %d", *st.Latency.FirstAudioMs, st.Responses, *st.Latency.ResponseP50Ms, *st.Latency.ResponseMaxMs)
	}
	var none callStats
	if st := none.snapshot("CA2", t0); st.Latency.FirstAudioMs != nil || st.Latency.ResponseP50Ms != nil || st.Latency.ResponseMaxMs != nil {
		t.Fatalf("a call without audio has latencies: %+v", st.Latency)
	}
}
