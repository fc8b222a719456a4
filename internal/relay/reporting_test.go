package relay

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/fake"
)

func TestMessageCountsAuditedOncePerCall(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "greeting", c.WaitFor, func() bool { return len(c.MarksReceived()) == 5 })
	send(t, c.SendSilence(30)) // plays the greeting: its 5 marks come back
	waitFor(t, "marks echoed", c.WaitFor, func() bool { return len(c.MarksEchoed()) == 5 })
	waitFor(t, "appends", s.WaitFor, func() bool { return s.AppendCount() == 30 })
	send(t, c.Stop())
	waitTrue(t, "cleanup", func() bool { return len(h.audit.ofType(audit.TypeResourceCleanup)) == 1 })

	recv, sent := h.audit.ofType(audit.TypeMessageReceived), h.audit.ofType(audit.TypeMessageSent)
	if len(recv) != 1 || len(sent) != 1 {
		t.Fatalf("message_received rows = %d, message_sent rows = %d, want one each per call", len(recv), len(sent))
	}
	for _, row := range append(recv, sent...) {
		if row.CallSID != c.CallSid() {
			t.Fatalf("row for call %q, want %q", row.CallSID, c.CallSid())
		}
	}
	// From Twilio: connected, start, 30 media, 5 mark echoes, stop. To
	// Twilio: 5 deltas of 5 media messages and a mark each. To the model:
	// session.update, the greeting's response.create, 30 appends.
	if got, want := fmt.Sprint(recv[0].Detail["twilio"]), "38"; got != want {
		t.Fatalf("received from twilio = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(sent[0].Detail["twilio"]), "30"; got != want {
		t.Fatalf("sent to twilio = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(sent[0].Detail["model"]), "32"; got != want {
		t.Fatalf("sent to model = %s, want %s", got, want)
	}
	if n, _ := recv[0].Detail["model"].(int); n < 10 {
		t.Fatalf("received from model = %v, want every server event", recv[0].Detail["model"])
	}
}

func TestModelFailuresAreReported(t *testing.T) {
	cases := []struct {
		name string
		opts fake.RealtimeOptions
		drop bool
		code string
	}{
		{name: "socket dropped", drop: true, code: string(endModelClosed)},
		{name: "session expired", opts: fake.RealtimeOptions{ExpireAfter: 100 * time.Millisecond}, code: "session_expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{rt: tc.opts})
			c := h.dial(fake.MediaOptions{})
			s := h.session(1)
			if tc.drop {
				waitFor(t, "greeting", c.WaitFor, func() bool { return c.ReceivedBytes() > 0 })
				s.CloseAbruptly()
			}
			waitFor(t, "stream closed", c.WaitFor, c.Closed)
			waitTrue(t, "error event", func() bool { return len(h.events.ofType(events.Error)) > 0 })
			evs := h.events.ofType(events.Error)
			if len(evs) != 1 || evs[0].Data["source"] != "model" || evs[0].Data["code"] != tc.code || evs[0].CallSID != c.CallSid() {
				t.Fatalf("error events = %+v", evs)
			}
			rows := h.audit.ofType(audit.TypeError)
			if len(rows) != 1 || rows[0].Detail["code"] != tc.code || rows[0].CallSID != c.CallSid() {
				t.Fatalf("error_occurred rows = %+v", rows)
			}
		})
	}
}

func TestModelErrorReportsMaskNumbers(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.rt.FailNextResponseCreate("invalid_value", "Cannot call +14155550123 now.")
	h.dial(fake.MediaOptions{})
	waitTrue(t, "error event", func() bool { return len(h.events.ofType(events.Error)) == 1 })
	waitTrue(t, "error row", func() bool { return len(h.audit.ofType(audit.TypeError)) == 1 })
	for _, msg := range []any{h.events.ofType(events.Error)[0].Data["message"], h.audit.ofType(audit.TypeError)[0].Detail["message"]} {
		if s, _ := msg.(string); strings.Contains(s, "4155550123") || !strings.Contains(s, "Cannot call") {
			t.Fatalf("reported message = %q", s)
		}
	}
}

func TestPolicyViolationIsPublishedAsError(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c := h.dial(fake.MediaOptions{})
	h.session(1)
	_ = c.SendRaw(bytes.Repeat([]byte("A"), twilioReadLimit+1))
	waitFor(t, "closed", c.WaitFor, c.Closed)
	waitTrue(t, "call ended", func() bool { _, ok := h.calls.endReason(c.CallSid()); return ok })
	evs := h.events.ofType(events.Error)
	if why, _ := h.calls.endReason(c.CallSid()); len(evs) != 1 {
		t.Fatalf("error events = %+v (end reason %s, close code %d)", evs, why, c.CloseCode())
	}
	ev := evs[0]
	if ev.Data["source"] != "twilio" || ev.Data["code"] != string(endPolicy) || !strings.Contains(ev.Data["message"].(string), "oversize") {
		t.Fatalf("error event = %+v", ev)
	}
	// The violation's audit row is the security alert alone.
	if rows := h.audit.ofType(audit.TypeError); len(rows) != 0 {
		t.Fatalf("error_occurred rows for a violation: %+v", rows)
	}
}
