package relay

import (
	"testing"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// TestEveryCloseReasonIsRecordedAsAnEndReason: each of the relay's close
// reasons maps to a reason the call records accept, and the mapping the
// package comment of voice documents holds.
func TestEveryCloseReasonIsRecordedAsAnEndReason(t *testing.T) {
	want := map[endReason]voice.EndReason{
		endStop: voice.EndCallerHangup, endTwilioClosed: voice.EndCallerHangup,
		endAgent: voice.EndAgentEnded, endMaxDuration: voice.EndMaxDuration, endIdle: voice.EndIdle,
		endModelFailed: voice.EndModelError, endModelClosed: voice.EndModelError, endSessionExpired: voice.EndModelError,
		endPolicy: voice.EndModelError, endBudget: voice.EndModelError, endPanic: voice.EndModelError,
		endTransferred: voice.EndTransferred, endShutdown: voice.EndOperator,
	}
	for why, rec := range want {
		if got := why.recorded(); got != rec || !voice.ValidEndReason(got) {
			t.Errorf("%s recorded as %q, want %q", why, got, rec)
		}
	}
}

// TestRelayHangUpRecordsItsReasonFirst: before the relay asks Twilio to
// hang up (the agent's end_call), it records why, so Twilio's status
// callback for that hang-up cannot record a caller hang-up first.
func TestRelayHangUpRecordsItsReasonFirst(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.rt.NextResponseCallsTool("end_call", `{"reason":"caller is done"}`)
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "goodbye answer", s.WaitFor, func() bool {
		r := s.Responses()
		return len(r) == 2 && r[1].Status == "completed"
	})
	waitFor(t, "goodbye received", c.WaitFor, func() bool { return len(c.MarksReceived()) == 5 })
	_ = c.SendSilence(30) // the relay hangs up once the goodbye has played
	waitFor(t, "stream closed", c.WaitFor, c.Closed)
	waitTrue(t, "call end recorded", func() bool { _, ok := h.calls.endReason(c.CallSid()); return ok })
	rec, ending := h.calls.recordedReason(c.CallSid())
	if rec != voice.EndAgentEnded || ending != voice.EndAgentEnded {
		t.Fatalf("recorded %q, before the hang-up %q; want agent_ended for both", rec, ending)
	}
}
