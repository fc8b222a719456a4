package relay

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/fake"
)

func TestPrewarmedSessionIsHandedToTheStream(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	callSID := fake.NewSid("CA")
	h.relay.Prewarm(callSID)
	s := h.session(1)
	waitFor(t, "session configured", s.WaitFor, func() bool { return len(s.SessionUpdates()) == 1 })
	if n := len(s.Responses()); n != 0 {
		t.Fatalf("pre-warmed session already answered %d times", n)
	}
	c := h.dial(fake.MediaOptions{CallSid: callSID})
	waitFor(t, "greeting", c.WaitFor, func() bool { return c.ReceivedBytes() > 0 })
	if n := len(h.rt.Sessions()); n != 1 {
		t.Fatalf("model sessions = %d, want the pre-warmed one only", n)
	}
	if got := counterValue(h.relay.m.PrewarmedSessions.WithLabelValues("used")); got != 1 {
		t.Fatalf("prewarm used = %v", got)
	}
}

func TestUnusedPrewarmClosesAtHoldEnd(t *testing.T) {
	h := newHarness(t, harnessOpts{env: map[string]string{"PREWARM_HOLD": "50ms"}})
	h.relay.Prewarm(fake.NewSid("CA"))
	s := h.session(1)
	waitFor(t, "pre-warmed session closed", s.WaitFor, s.Closed)
	waitTrue(t, "expired metric", func() bool {
		return counterValue(h.relay.m.PrewarmedSessions.WithLabelValues("expired")) == 1
	})
	// A stream that arrives later (or on another instance) opens its own.
	c := h.dial(fake.MediaOptions{})
	waitFor(t, "greeting", c.WaitFor, func() bool { return c.ReceivedBytes() > 0 })
	if n := len(h.rt.Sessions()); n != 2 {
		t.Fatalf("model sessions = %d, want 2", n)
	}
}

func TestCallerAudioBufferedUntilModelReady(t *testing.T) {
	h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{AcceptDelay: 300 * time.Millisecond}})
	c := h.dial(fake.MediaOptions{})
	var sent [][]byte
	for i := range 50 { // one second of audio before the model answers
		f := fake.EncodeProbeFrame(uint32(i + 1))
		sent = append(sent, f)
		send(t, c.SendMedia(f))
	}
	s := h.session(1)
	waitFor(t, "buffered frames", s.WaitFor, func() bool { return s.AppendCount() >= 50 })
	app := s.Appended()
	if len(app) != 50 {
		t.Fatalf("appends = %d, want 50", len(app))
	}
	for i := range sent {
		if !bytes.Equal(app[i], sent[i]) {
			t.Fatalf("buffered frame %d lost or reordered", i)
		}
	}
}

func TestModelUnreachableTellsCallerAndEnds(t *testing.T) {
	h := newHarness(t, harnessOpts{realtimeURL: "ws://127.0.0.1:1/v1/realtime"})
	c := h.dial(fake.MediaOptions{NoStart: true})
	_ = c.SendHandshake() // the relay may already have hung up
	waitFor(t, "stream closed", c.WaitFor, c.Closed)
	if got := c.CloseCode(); got != websocket.CloseTryAgainLater {
		t.Fatalf("close code = %d", got)
	}
	_, _, _, said := h.tel.snapshot()
	if len(said) != 1 || !strings.HasPrefix(said[0], c.CallSid()+" Sorry") {
		t.Fatalf("announcements = %v", said)
	}
	waitTrue(t, "end recorded", func() bool { why, _ := h.calls.endReason(c.CallSid()); return why == string(endModelFailed) })
}

func TestSessionExpiredEndsCallPolitely(t *testing.T) {
	h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{ExpireAfter: 100 * time.Millisecond}})
	c := h.dial(fake.MediaOptions{})
	waitFor(t, "stream closed", c.WaitFor, c.Closed)
	_, _, _, said := h.tel.snapshot()
	if len(said) != 1 {
		t.Fatalf("announcements = %v", said)
	}
	waitTrue(t, "end recorded", func() bool { why, _ := h.calls.endReason(c.CallSid()); return why == string(endSessionExpired) })
}

func TestModelSocketDropEndsCall(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "greeting", c.WaitFor, func() bool { return c.ReceivedBytes() > 0 })
	s.CloseAbruptly()
	waitFor(t, "stream closed", c.WaitFor, c.Closed)
	waitTrue(t, "end recorded", func() bool { why, _ := h.calls.endReason(c.CallSid()); return why == string(endModelClosed) })
}

func TestMaxDurationAndIdleEndGracefully(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want endReason
	}{
		{map[string]string{"MAX_CALL_DURATION": "300ms"}, endMaxDuration},
		{map[string]string{"CALL_IDLE_TIMEOUT": "300ms"}, endIdle},
	} {
		t.Run(string(tc.want), func(t *testing.T) {
			h := newHarness(t, harnessOpts{env: tc.env})
			c := h.dial(fake.MediaOptions{})
			s := h.session(1)
			// The greeting plays; then the limit hits, the agent says
			// goodbye, and once that has played the call is hung up.
			waitFor(t, "goodbye answer", s.WaitFor, func() bool { return len(s.Responses()) == 2 })
			waitFor(t, "goodbye audio", c.WaitFor, func() bool { return len(c.MarksReceived()) == 10 })
			_ = c.SendSilence(60) // the relay hangs up part-way through
			waitFor(t, "stream closed", c.WaitFor, c.Closed)
			_, _, ended, _ := h.tel.snapshot()
			if len(ended) != 1 {
				t.Fatalf("hang-ups = %v", ended)
			}
			waitTrue(t, "end recorded", func() bool { why, _ := h.calls.endReason(c.CallSid()); return why == string(tc.want) })
		})
	}
}

func TestTwoCallsNeverShareAudio(t *testing.T) {
	h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{ProbeAudio: true}})
	c1 := h.dial(fake.MediaOptions{})
	s1 := h.session(1)
	c2 := h.dial(fake.MediaOptions{})
	s2 := h.session(2)
	for _, c := range []*fake.MediaClient{c1, c2} {
		waitFor(t, "greeting", c.WaitFor, func() bool { return c.ReceivedBytes() >= 4000 && len(c.MarksReceived()) == 5 })
	}
	// Interleave distinct caller audio on both calls.
	for i := range 40 {
		send(t, c1.SendMedia(fake.EncodeProbeFrame(uint32(10000+i))))
		send(t, c2.SendMedia(fake.EncodeProbeFrame(uint32(20000+i))))
	}
	check := func(s *fake.RealtimeSession, base uint32) {
		waitFor(t, "appends", s.WaitFor, func() bool { return s.AppendCount() >= 40 })
		for i, a := range s.Appended() {
			if seq, ok := fake.DecodeProbeFrame(a); !ok || seq != base+uint32(i) {
				t.Fatalf("session got frame %d (ok=%v), want %d: cross-talk", seq, ok, base+uint32(i))
			}
		}
	}
	check(s1, 10000)
	check(s2, 20000)
	if c1.ReceivedBytes() != s1.Responses()[0].AudioBytes || c2.ReceivedBytes() != s2.Responses()[0].AudioBytes {
		t.Fatalf("each caller must get exactly its own agent audio")
	}

	// Ending call 1 leaves call 2 intact.
	send(t, c1.Stop())
	waitFor(t, "model 1 closed", s1.WaitFor, s1.Closed)
	send(t, c2.SendSpeech(10))
	send(t, c2.SendSilence(30))
	waitFor(t, "call 2 answered again", c2.WaitFor, func() bool { return len(c2.MarksReceived()) == 10 })
	if s2.Closed() || c2.Closed() {
		t.Fatal("call 2 was disturbed by call 1 ending")
	}
	if v := append(c1.Violations(), c2.Violations()...); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}

func TestFloodIsCutOff(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c := h.dial(fake.MediaOptions{})
	frame := fake.SilenceFrame()
	tick := time.NewTicker(2 * time.Millisecond) // 500 messages a second
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	sent := 0
	for !c.Closed() {
		select {
		case <-tick.C:
			if c.SendMedia(frame) == nil {
				sent++
			}
		case <-deadline:
			t.Fatalf("a 500 msg/s flood was not cut off (%d sent)", sent)
		}
	}
	waitFor(t, "closed", c.WaitFor, c.Closed)
	if got := c.CloseCode(); got != websocket.ClosePolicyViolation {
		t.Fatalf("close code = %d, want 1008", got)
	}
	if len(h.audit.ofType(audit.TypeSecurityAlert)) != 1 {
		t.Fatal("no audit event for the flood")
	}
}

func TestProtocolErrorsCloseTheStream(t *testing.T) {
	bad := [][]byte{
		[]byte(`{not json`),
		[]byte(`{"event":"media","streamSid":"MZ00000000000000000000000000000bad","media":{"payload":"/w=="}}`),
		[]byte(`{"event":"media","streamSid":"` + "%s" + `","media":{"payload":"!!!notbase64"}}`),
		[]byte(`{"event":"media","streamSid":"%s","media":{"payload":"` + strings.Repeat("A", 20000) + `"}}`),
		[]byte(`{"event":"mark","streamSid":"%s","mark":{}}`),
		[]byte(`[1,2,3]`),
	}
	h := newHarness(t, harnessOpts{})
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	for i, b := range bad {
		msg := bytes.ReplaceAll(b, []byte("%s"), []byte(c.StreamSid()))
		if err := c.SendRaw(msg); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	waitFor(t, "closed", c.WaitFor, c.Closed)
	if got := c.CloseCode(); got != websocket.ClosePolicyViolation {
		t.Fatalf("close code = %d, want 1008", got)
	}
	waitFor(t, "model closed", s.WaitFor, s.Closed)
	if n := s.AppendCount(); n != 0 {
		t.Fatalf("malformed frames reached the model: %d appends", n)
	}
}

func TestStartForAnotherCallIsRefused(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c, err := fake.DialMedia(ctx(t), "ws"+strings.TrimPrefix(h.srv.URL, "http")+"/stream/"+fake.NewSid("CA"), fake.MediaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Drop()
	waitFor(t, "closed", c.WaitFor, c.Closed)
	if got := c.CloseCode(); got != websocket.ClosePolicyViolation {
		t.Fatalf("close code = %d, want 1008", got)
	}
}

func TestShutdownEndsLiveCalls(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c := h.dial(fake.MediaOptions{})
	waitFor(t, "greeting", c.WaitFor, func() bool { return c.ReceivedBytes() > 0 })
	if h.relay.Live() != 1 {
		t.Fatalf("live = %d", h.relay.Live())
	}
	dctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	h.relay.Drain(dctx) // the call does not end by itself: the drain times out
	cancel()
	h.relay.Close()
	waitFor(t, "closed", c.WaitFor, c.Closed)
	if got := c.CloseCode(); got != websocket.CloseGoingAway {
		t.Fatalf("close code = %d, want 1001", got)
	}
	if h.relay.Live() != 0 {
		t.Fatalf("live after close = %d", h.relay.Live())
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

func TestOversizeMessageIsAPolicyViolation(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c := h.dial(fake.MediaOptions{})
	h.session(1)
	// Past the hard cap (64 KiB): closed at once, not just counted.
	_ = c.SendRaw(bytes.Repeat([]byte("A"), twilioReadLimit+1)) // the relay may close mid-write
	waitFor(t, "closed", c.WaitFor, c.Closed)
	if got := c.CloseCode(); got != websocket.ClosePolicyViolation {
		t.Fatalf("close code = %d, want 1008", got)
	}
	alerts := h.audit.ofType(audit.TypeSecurityAlert)
	if len(alerts) != 1 || alerts[0].Detail["violation"] != "oversize message" || alerts[0].CallSID != c.CallSid() {
		t.Fatalf("security alerts = %+v", alerts)
	}
	waitTrue(t, "end recorded", func() bool { _, ok := h.calls.endReason(c.CallSid()); return ok })
	if why, _ := h.calls.endReason(c.CallSid()); why != string(endPolicy) {
		t.Fatalf("end reason = %q, want %q", why, endPolicy)
	}
}

func TestStreamAfterCloseEndsTheCallRecord(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.relay.Close()
	c := h.dial(fake.MediaOptions{NoStart: true})
	waitFor(t, "closed", c.WaitFor, c.Closed)
	if got := c.CloseCode(); got != websocket.CloseGoingAway {
		t.Fatalf("close code = %d, want 1001", got)
	}
	waitTrue(t, "end recorded", func() bool { _, ok := h.calls.endReason(c.CallSid()); return ok })
	if why, _ := h.calls.endReason(c.CallSid()); why != string(endShutdown) {
		t.Fatalf("end reason = %q, want %q", why, endShutdown)
	}
}
