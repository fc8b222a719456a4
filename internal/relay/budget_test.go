package relay

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/transcript"
)

// The model endpoint is an untrusted peer: these tests drive one call with
// a hostile fake Realtime server beside a normal bystander call and assert
// the per-call budget holds (heap and goroutines sampled during the
// flood), the hostile call ends gracefully with a security_alert naming
// the limit, and the bystander is untouched. Floods are finite and sized
// so that code without the bound grows far past the threshold without
// coming near a gigabyte (the machine is shared).

// usage samples the heap and the goroutine count until end.
type usage struct {
	stop, done chan struct{}
	baseHeap   uint64
	baseG      int
	peakHeap   atomic.Uint64
	peakG      atomic.Int64
}

func sampleUsage() *usage {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u := &usage{stop: make(chan struct{}), done: make(chan struct{}), baseHeap: ms.HeapAlloc, baseG: runtime.NumGoroutine()}
	go func() {
		defer close(u.done)
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > u.peakHeap.Load() {
				u.peakHeap.Store(ms.HeapAlloc)
			}
			if g := int64(runtime.NumGoroutine()); g > u.peakG.Load() {
				u.peakG.Store(g)
			}
			select {
			case <-u.stop:
				return
			case <-tk.C:
			}
		}
	}()
	return u
}

// end stops sampling and returns the peak heap growth (MiB) and the peak
// number of goroutines above the start.
func (u *usage) end() (heapMiB float64, goroutines int) {
	close(u.stop)
	<-u.done
	grow := int64(u.peakHeap.Load()) - int64(u.baseHeap)
	return float64(max(grow, 0)) / (1 << 20), int(u.peakG.Load()) - u.baseG
}

// warnCounter is a slog handler counting warning and error lines.
type warnCounter struct{ n atomic.Int64 }

func (w *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnCounter) Handle(context.Context, slog.Record) error {
	w.n.Add(1)
	return nil
}
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnCounter) WithGroup(string) slog.Handler      { return w }

// liveCall returns the relay's call for callSID, or nil.
func (h *harness) liveCall(callSID string) *Call {
	h.relay.mu.Lock()
	defer h.relay.mu.Unlock()
	for c := range h.relay.calls {
		if c.callSID == callSID {
			return c
		}
	}
	return nil
}

// linesOf returns the stored transcript lines of one call.
func (h *harness) linesOf(callSID string) []transcript.Line {
	var out []transcript.Line
	for _, l := range h.lines.all() {
		if l.CallSID == callSID {
			out = append(out, l)
		}
	}
	return out
}

// bystander starts a normal call and waits for its greeting's transcript.
func (h *harness) bystander() (*fake.MediaClient, *fake.RealtimeSession) {
	h.t.Helper()
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitTrue(h.t, "the bystander's greeting transcript", func() bool { return len(h.linesOf(c.CallSid())) > 0 })
	return c, s
}

// checkBystander asserts the bystander call is still live and its
// transcript intact after the hostile call ended.
func (h *harness) checkBystander(c *fake.MediaClient, s *fake.RealtimeSession, lines int) {
	h.t.Helper()
	waitTrue(h.t, "only the bystander left", func() bool { return h.relay.Live() == 1 })
	if why, ok := h.calls.endReason(c.CallSid()); ok {
		h.t.Fatalf("the bystander call ended (%s)", why)
	}
	if s.Closed() {
		h.t.Fatal("the bystander's model session closed")
	}
	if got := len(h.linesOf(c.CallSid())); got < lines {
		h.t.Fatalf("bystander transcript lines = %d, want at least %d", got, lines)
	}
}

// checkBudgetEnd asserts the hostile call ended for limit, gracefully.
func (h *harness) checkBudgetEnd(callSID, limit string) {
	h.t.Helper()
	waitTrue(h.t, "the hostile call to end", func() bool { _, ok := h.calls.endReason(callSID); return ok })
	if why, _ := h.calls.endReason(callSID); why != string(endBudget) {
		h.t.Fatalf("hostile call end reason = %q, want %q", why, endBudget)
	}
	var found bool
	for _, ev := range h.audit.ofType(audit.TypeSecurityAlert) {
		if ev.CallSID == callSID && ev.Detail["limit"] == limit {
			found = true
		}
	}
	if !found {
		h.t.Fatalf("no security_alert with limit %q for the hostile call: %+v", limit, h.audit.ofType(audit.TypeSecurityAlert))
	}
	_, _, _, said := h.tel.snapshot()
	if !strings.Contains(strings.Join(said, "\n"), callSID+" Sorry") {
		h.t.Fatalf("the caller did not hear the apology: %q", said)
	}
	if n := testutil.ToFloat64(h.relay.m.BudgetExceeded.WithLabelValues(limit)); n != 1 {
		h.t.Fatalf("budget metric for %s = %v, want 1", limit, n)
	}
}

func TestHostileModelIsBounded(t *testing.T) {
	cases := []struct {
		name       string
		finding    string
		flood      func(s *fake.RealtimeSession)
		frames     int64 // the flood's size: old code has taken most of it in
		limit      string
		maxHeapMiB float64
		maxG       int
		setup      func(h *harness)
		check      func(t *testing.T, h *harness, s *fake.RealtimeSession, callSID string)
	}{
		{
			name: "endless transcript deltas", finding: "1",
			flood:  func(s *fake.RealtimeSession) { s.FloodTranscript(32<<10, 3000) }, // old: ~96 MiB in one builder
			frames: 3000, limit: limitTranscriptItem, maxHeapMiB: 24, maxG: 60,
		},
		{
			name: "long item ids", finding: "2",
			flood:  func(s *fake.RealtimeSession) { s.FloodItemIDs(64<<10, 1500) }, // old: ~94 MiB of ids kept
			frames: 1500, limit: limitItemID, maxHeapMiB: 24, maxG: 60,
		},
		{
			name: "many item ids", finding: "2",
			flood:  func(s *fake.RealtimeSession) { s.FloodItemIDs(40, 3000) },
			frames: 3000, limit: limitPendingItems, maxHeapMiB: 24, maxG: 60,
		},
		{
			name: "tool calls in one response", finding: "3",
			setup: func(h *harness) {
				h.dir.add("Alice Example", "+14155550100")
				h.tel.mu.Lock()
				h.tel.block = make(chan struct{}) // every transfer hangs until the tool timeout
				h.tel.mu.Unlock()
			},
			flood: func(s *fake.RealtimeSession) {
				s.ToolLoop("add_to_conference", `{"contact_name":"Alice Example"}`, 50, 40)
			},
			frames: 40, limit: limitToolsPerResponse, maxHeapMiB: 64, maxG: 60, // old: 2,000 goroutines
		},
		{
			name: "tool loop over many responses", finding: "3",
			flood:  func(s *fake.RealtimeSession) { s.ToolLoop("lookup_contact", `{"name":"Nobody"}`, 2, 1000) },
			frames: 1000, limit: limitToolsPerCall, maxHeapMiB: 64, maxG: 60,
			check: func(t *testing.T, h *harness, s *fake.RealtimeSession, _ string) {
				if n := len(s.FunctionOutputs()); n > 20 {
					t.Fatalf("tool outputs = %d, want at most 20 (the per-call budget)", n)
				}
			},
		},
		{
			name: "stored transcript flood", finding: "7",
			flood:  func(s *fake.RealtimeSession) { s.FloodCallerTranscripts(8<<10, 3000) }, // old: ~24 MiB stored
			frames: 3000, limit: limitStoredTranscript, maxHeapMiB: 24, maxG: 60,
			check: func(t *testing.T, h *harness, _ *fake.RealtimeSession, callSID string) {
				stored := 0
				for _, l := range h.linesOf(callSID) {
					stored += len(l.Text) + transcriptRowOverhead
				}
				if stored > DefaultBudget().StoredTranscriptBytes {
					t.Fatalf("stored %d transcript bytes for the call, budget %d", stored, DefaultBudget().StoredTranscriptBytes)
				}
			},
		},
		{
			name: "error flood with huge codes", finding: "9",
			flood:  func(s *fake.RealtimeSession) { s.FloodErrors(512<<10, 300) },
			frames: 300, limit: limitErrorEvents, maxHeapMiB: 64, maxG: 60,
			check: func(t *testing.T, h *harness, _ *fake.RealtimeSession, callSID string) {
				for _, ev := range h.audit.ofType(audit.TypeError) {
					if code, _ := ev.Detail["code"].(string); len(code) > maxErrorCode {
						t.Fatalf("an audit row kept a %d-byte error code", len(code))
					}
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			warns := &warnCounter{}
			h := newHarness(t, harnessOpts{log: slog.New(warns)})
			if tc.setup != nil {
				tc.setup(h)
			}
			bc, bs := h.bystander()
			blines := len(h.linesOf(bc.CallSid()))
			u := sampleUsage()
			hc := h.dial(fake.MediaOptions{DiscardAudio: true})
			s := h.session(2)
			waitFor(t, "the greeting", s.WaitFor, func() bool { return len(s.Responses()) >= 1 })
			tc.flood(s)
			waitTrue(t, "the hostile call to end or the flood to be spent", func() bool {
				_, ended := h.calls.endReason(hc.CallSid())
				return ended || s.Flooded() >= tc.frames
			})
			heap, g := u.end()
			t.Logf("finding %s: heap +%.1f MiB, +%d goroutines, %d frames flooded", tc.finding, heap, g, s.Flooded())
			if heap > tc.maxHeapMiB {
				t.Errorf("heap grew by %.1f MiB during the flood, want at most %.0f", heap, tc.maxHeapMiB)
			}
			if g > tc.maxG {
				t.Errorf("%d more goroutines during the flood, want at most %d", g, tc.maxG)
			}
			if tc.check != nil {
				tc.check(t, h, s, hc.CallSid())
			}
			h.checkBudgetEnd(hc.CallSid(), tc.limit)
			h.checkBystander(bc, bs, blines)
			if n := warns.n.Load(); n > int64(DefaultBudget().LogLines)+10 {
				t.Fatalf("%d warning lines for one hostile call", n)
			}
			if tc.check != nil {
				tc.check(t, h, s, hc.CallSid())
			}
		})
	}
}

// Finding 4: one model response asking for the same transfer twice dials
// once; the second call is answered with an error.
func TestOneTransferPerCall(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.dir.add("Alice Example", "+14155550100")
	h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "the greeting", s.WaitFor, func() bool { return len(s.Responses()) >= 1 })
	s.ToolLoop("forward_call", `{"contact_name":"Alice Example"}`, 2, 1)
	waitFor(t, "both tool outputs", s.WaitFor, func() bool { return len(s.FunctionOutputs()) == 2 })
	_, fwd, _, _ := h.tel.snapshot()
	if len(fwd) != 1 {
		t.Fatalf("forwards = %v, want exactly one", fwd)
	}
	var ok, refused int
	for _, out := range toolOutputs(t, s) {
		switch {
		case out["ok"] == true:
			ok++
		case strings.Contains(out["error"].(string), "already been transferred"):
			refused++
		}
	}
	if ok != 1 || refused != 1 {
		t.Fatalf("outputs = %v, want one success and one refusal", toolOutputs(t, s))
	}
}

// Finding 6: a model flooding audio at a Twilio reader that does not read
// fills the queue to Twilio up to its byte budget, not 256 large entries,
// or (when the model reader writes to Twilio itself) holds the model
// reader in its write: either way memory stays bounded.
func TestTwilioQueueBoundedInBytes(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	bc, bs := h.bystander()
	blines := len(h.linesOf(bc.CallSid()))
	release := make(chan struct{})
	hc := h.dial(fake.MediaOptions{DiscardAudio: true, OnMedia: func([]byte, time.Time) { <-release }})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	s := h.session(2)
	waitFor(t, "the greeting", s.WaitFor, func() bool { return len(s.Responses()) >= 1 })
	var call *Call
	waitTrue(t, "the hostile call", func() bool { call = h.liveCall(hc.CallSid()); return call != nil })
	u := sampleUsage()
	s.FloodAudio(96<<10, 2000) // ~180 KB of Twilio messages per delta
	budget := int64(DefaultBudget().QueueBytes)
	// Full by its byte budget (about five of these entries), or, without
	// one, far past it in entries (32 of them are about 6 MB).
	waitTrue(t, "the queue to Twilio to fill or its writer to stall", func() bool {
		return len(call.tw.queue) >= 32 || call.tw.queued.Load() >= budget-200<<10 || call.tw.stalledFor(time.Now()) > time.Second
	})
	heap, _ := u.end()
	t.Logf("finding 6: heap +%.1f MiB, %d entries / %d bytes queued", heap, len(call.tw.queue), call.tw.queued.Load())
	if q := call.tw.queued.Load(); q > budget {
		t.Errorf("%d bytes queued to Twilio, budget %d", q, budget)
	}
	if n := len(call.tw.queue); n > 8 {
		t.Errorf("%d entries of ~180 KB queued to Twilio: more than the byte budget holds", n)
	}
	if heap > 24 {
		t.Errorf("heap grew by %.1f MiB with a blocked Twilio reader, want at most 24", heap)
	}
	unblock()
	hc.Drop()
	h.checkBystander(bc, bs, blines)
}

// Finding 10: one call flooding live events does not push /logs viewers
// into the drop path (their queues hold DefaultQueueSize events), and tool
// arguments reach viewers summarised.
func TestNoisyCallDoesNotDropViewers(t *testing.T) {
	bus := events.NewBus(slog.New(&warnCounter{}), events.Options{})
	t.Cleanup(bus.Close)
	h := newHarness(t, harnessOpts{bus: bus})
	bc, bs := h.bystander()
	blines := len(h.linesOf(bc.CallSid()))
	all := bus.Subscribe() // a dashboard following every call, reading nothing during the flood
	t.Cleanup(all.Close)
	one := bus.Subscribe() // a viewer of the bystander call only
	one.SetCallSID(bc.CallSid())
	t.Cleanup(one.Close)

	hc := h.dial(fake.MediaOptions{DiscardAudio: true})
	s := h.session(2)
	waitFor(t, "the greeting", s.WaitFor, func() bool { return len(s.Responses()) >= 1 })
	long := `{"name":"` + strings.Repeat("a", 3000) + `"}`
	s.ToolLoop("lookup_contact", long, 1, 1)
	waitFor(t, "the tool output", s.WaitFor, func() bool { return len(s.FunctionOutputs()) >= 1 })
	waitTrue(t, "the tool.call event", func() bool { return len(h.events.ofType(events.ToolCall)) == 1 })
	for _, ev := range h.events.ofType(events.ToolCall) {
		if a, _ := ev.Data["arguments"].(string); len(a) > maxToolSummary+len("…") {
			t.Fatalf("a tool.call event carried %d bytes of arguments", len(a))
		}
	}
	s.FloodCallerTranscripts(20, 2000)
	waitTrue(t, "the flood taken in", func() bool {
		return len(h.linesOf(hc.CallSid()))+int(h.relay.transcripts.dropped()) >= 2000
	})
	for _, sub := range []*events.Subscription{all, one} {
		select {
		case <-sub.Gone():
			t.Fatalf("a viewer was dropped (%s) by one call's flood", sub.Reason())
		default:
		}
	}

	hc.Drop()
	h.checkBystander(bc, bs, blines)
}
