package httpapi_test

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/poll"
)

// endsOf returns the call.ended events a viewer saw for one call.
func (c *collector) endsOf(sid string) []wireMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []wireMsg
	for _, m := range c.msgs {
		if m.CallSID == sid && m.Type == events.CallEnded {
			out = append(out, m)
		}
	}
	return out
}

// settle publishes a marker and waits until the viewer has it: whatever
// was published before (by a webhook that has answered) has then reached
// the viewer too.
func settle(t *testing.T, srv *apptest.Server, c *collector) {
	t.Helper()
	marker := fake.NewSid("CA")
	srv.Bus.Publish(events.Event{Type: events.Error, CallSID: marker, Data: map[string]any{"message": "marker"}})
	poll.Wait(t, "the marker event", func() bool { types, _ := c.call(marker); return len(types) == 1 })
}

// statusCallback posts a status callback for callSID (seq < 0: without a
// SequenceNumber).
func (r *liveRig) statusCallback(t *testing.T, callSID, status string, duration, seq int) {
	t.Helper()
	form := url.Values{
		"CallSid": {callSID}, "AccountSid": {apptest.AccountSID}, "CallStatus": {status},
		"CallDuration": {fmt.Sprint(duration)},
	}
	if seq >= 0 {
		form.Set("SequenceNumber", fmt.Sprint(seq))
	}
	r.webhook(t, "/voice/status", form)
}

// TestStatusCallbackEndsCallsOnTheBus: a call that never streams (turned
// away by the policy, or hung up before its stream) ends on the bus when
// Twilio's final status callback arrives, exactly once even when the
// callback is delivered twice; a call the relay already ended is not
// announced again by its status callback.
func TestStatusCallbackEndsCallsOnTheBus(t *testing.T) {
	rig := newLiveRig(t, nil, nil)
	viewer := collect(dialLogs(t, rig.srv))

	wantOneEnd := func(t *testing.T, sid, status string, duration int) {
		t.Helper()
		settle(t, rig.srv, viewer)
		ends := viewer.endsOf(sid)
		if len(ends) != 1 {
			types, _ := viewer.call(sid)
			t.Fatalf("call.ended events = %d, want 1 (the call's events: %v)", len(ends), types)
		}
		if got := ends[0].Data["status"]; got != status {
			t.Errorf("call.ended status = %v, want %s", got, status)
		}
		if got := ends[0].Data["durationSec"]; got != float64(duration) {
			t.Errorf("call.ended durationSec = %v, want %d", got, duration)
		}
	}

	t.Run("rejected", func(t *testing.T) {
		// Not the configured number: rejected at /voice/incoming.
		params := fake.DefaultCallParams("+15555550131", "+15005550009")
		params.Set("AccountSid", apptest.AccountSID)
		rig.webhook(t, "/voice/incoming", params)
		sid := params.Get("CallSid")
		poll.Wait(t, "call.received", func() bool { types, _ := viewer.call(sid); return len(types) > 0 })
		if types, _ := viewer.call(sid); types[0] != events.CallReceived {
			t.Fatalf("first event = %s, want %s", types[0], events.CallReceived)
		}
		rig.statusCallback(t, sid, "busy", 0, 1)
		rig.statusCallback(t, sid, "busy", 0, -1) // a retried delivery
		wantOneEnd(t, sid, "busy", 0)
	})

	t.Run("accepted, hung up before the stream", func(t *testing.T) {
		params := fake.DefaultCallParams("+15555550132", "+15005550001")
		params.Set("AccountSid", apptest.AccountSID)
		rig.webhook(t, "/voice/incoming", params)
		rig.webhook(t, "/voice/accept", params)
		sid := params.Get("CallSid")
		rig.statusCallback(t, sid, "completed", 3, 2)
		rig.statusCallback(t, sid, "completed", 3, 3)
		wantOneEnd(t, sid, "completed", 3)
	})

	t.Run("ended by the relay first", func(t *testing.T) {
		c, sid := rig.call(t, "+15555550133")
		greeted(t, c)
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		poll.Wait(t, "the relay's call.ended", func() bool { return len(viewer.endsOf(sid)) == 1 })
		rig.statusCallback(t, sid, "completed", 2, 4)
		settle(t, rig.srv, viewer)
		if n := len(viewer.endsOf(sid)); n != 1 {
			t.Fatalf("call.ended events = %d, want 1 (the status callback announced the end again)", n)
		}
	})
}
