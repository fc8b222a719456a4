package relay

import (
	"testing"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/fake"
)

// TestPanicInACallIsContained: a panic injected into one call's Twilio
// reader ends that call only, cleanly (its stream closed, its model
// session closed, its end recorded so its slot is freed, error_occurred
// audited), while another live call goes on. TestMain's goleak check
// shows no goroutine of the panicking call is left behind.
func TestPanicInACallIsContained(t *testing.T) {
	// Where the panic strikes: the Twilio reader itself, and steps the
	// readers run aside (on a goroutine of their own, waited for).
	for _, tc := range []struct {
		where   string
		trigger func(c *fake.MediaClient) error
	}{
		{"twilio_message", func(c *fake.MediaClient) error { return c.SendMedia(fake.EncodeProbeFrame(1)) }},
		{"twilio_other", func(c *fake.MediaClient) error { return c.SendDTMF("5") }},
		{"model_event", func(c *fake.MediaClient) error { return c.SendDTMF("5") }}, // the model answers
	} {
		t.Run(tc.where, func(t *testing.T) { testPanicContained(t, tc.where, tc.trigger) })
	}
}

func testPanicContained(t *testing.T, where string, trigger func(c *fake.MediaClient) error) {
	h := newHarness(t, harnessOpts{})
	victim := h.dial(fake.MediaOptions{})
	sv := h.session(1)
	waitFor(t, "victim greeting", victim.WaitFor, func() bool { return victim.ReceivedBytes() > 0 })
	other := h.dial(fake.MediaOptions{})
	so := h.session(2)
	waitFor(t, "other greeting", other.WaitFor, func() bool { return other.ReceivedBytes() > 0 })

	hook := func(callSID, at string) {
		if callSID == victim.CallSid() && at == where {
			panic("injected test panic")
		}
	}
	panicHook.Store(&hook)
	t.Cleanup(func() { panicHook.Store(nil) })

	send(t, trigger(victim))
	waitFor(t, "the victim's stream closed", victim.WaitFor, victim.Closed)
	waitFor(t, "the victim's model session closed", sv.WaitFor, sv.Closed)
	waitTrue(t, "the victim's end recorded", func() bool {
		why, ok := h.calls.endReason(victim.CallSid())
		return ok && why == string(endPanic)
	})
	waitTrue(t, "the victim left the relay", func() bool { return h.relay.Live() == 1 })
	errs := h.audit.ofType(audit.TypeError)
	if len(errs) != 1 || errs[0].CallSID != victim.CallSid() || errs[0].Detail["source"] != "panic" {
		t.Fatalf("error_occurred events = %+v", errs)
	}

	// The other call goes on: its audio still reaches its model.
	before := so.AppendCount()
	for i := range 5 {
		send(t, other.SendMedia(fake.EncodeProbeFrame(uint32(100+i))))
	}
	waitFor(t, "the other call's audio", so.WaitFor, func() bool { return so.AppendCount() >= before+5 })
	if other.Closed() || so.Closed() {
		t.Fatal("the other call was ended")
	}
	if _, ended := h.calls.endReason(other.CallSid()); ended {
		t.Fatal("the other call's end was recorded")
	}
}

// A step run aside finishes before aside returns, and its panic is raised
// again on the caller's goroutine (where the call's reader contains it).
func TestAsideWaitsAndRaisesPanicsOnTheCaller(t *testing.T) {
	ran := false
	aside(func() { ran = true })
	if !ran {
		t.Fatal("aside returned before its step ran")
	}
	defer func() {
		if v := recover(); v != "boom" {
			t.Fatalf("recovered %v, want the step's panic", v)
		}
	}()
	aside(func() { panic("boom") })
	t.Fatal("aside returned after its step panicked")
}
