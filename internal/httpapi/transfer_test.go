package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// TestOperatorMovesALiveAgentCall: an operator moves a caller who is
// talking with the agent into a conference. Twilio ends the media stream
// as it applies the new TwiML (the fake does so before answering); that
// end is not the end of the call: the record stays open with its
// capacity slot, the operator can act on the call again, and Twilio's
// final status callback ends it.
func TestOperatorMovesALiveAgentCall(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		r := newLiveRig(t, db, nil)
		media, callSID := r.call(t, "+15555550142")
		greeted(t, media)
		r.rest.OnCallUpdate(func(sid string) {
			if sid == callSID {
				_ = media.Stop()
				<-media.Done()
			}
		})
		op := &opAPI{t: t, srv: r.srv, tw: r.rest}

		resp, body := op.call(http.MethodPost, "/api/conference/add",
			`{"conferenceName":"conf_`+callSID+`","targetNumber":"+15555550123"}`, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("conference/add = %d %s", resp.StatusCode, body)
		}
		if got := r.rest.Requests(fake.OpCreateParticipant); len(got) != 1 || got[0].Form.Get("To") != "+15555550123" {
			t.Fatalf("participant requests = %+v", got)
		}
		ended, active := liveCallState(t, db, callSID)
		if ended || !active {
			t.Fatalf("after the move: ended=%v active=%v, want a live call holding its slot", ended, active)
		}
		if why, _ := endReasonOf(t, db, callSID); why != voice.EndTransferred {
			t.Fatalf("end reason after the move = %q, want transferred", why)
		}

		// The call is still the operator's to act on.
		resp, body = op.call(http.MethodPost, "/api/conference/forward",
			`{"callSid":"`+callSID+`","targetNumber":"+15555550124"}`, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("forward after the move = %d %s", resp.StatusCode, body)
		}

		status := url.Values{"CallSid": {callSID}, "AccountSid": {apptest.AccountSID}, "CallStatus": {"completed"},
			"CallDuration": {"61"}, "SequenceNumber": {"4"}}
		r.webhook(t, "/voice/status", status)
		if ended, active = liveCallState(t, db, callSID); !ended || active {
			t.Fatalf("after the final callback: ended=%v active=%v", ended, active)
		}
		if why, _ := endReasonOf(t, db, callSID); why != voice.EndTransferred {
			t.Fatalf("end reason after Twilio's final status = %q, want transferred", why)
		}
	})
}

// TestFailedMoveKeepsTheAgentCall: when Twilio refuses the move, the
// transfer mark is taken back, so the stream's later end ends the call.
func TestFailedMoveKeepsTheAgentCall(t *testing.T) {
	db := storetest.SQLite(t)
	r := newLiveRig(t, db, nil)
	media, callSID := r.call(t, "+15555550143")
	greeted(t, media)
	r.rest.Fail(fake.OpUpdateCall, http.StatusInternalServerError, 20500, 1)
	op := &opAPI{t: t, srv: r.srv, tw: r.rest}
	resp, body := op.call(http.MethodPost, "/api/conference/add",
		`{"conferenceName":"conf_`+callSID+`","targetNumber":"+15555550123"}`, nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("conference/add = %d %s, want 502", resp.StatusCode, body)
	}
	_ = media.Stop()
	<-media.Done()
	waitFor(t, "the stream's end to end a call whose move failed", func() bool { ended, _ := liveCallState(t, db, callSID); return ended })
	if why, _ := endReasonOf(t, db, callSID); why != voice.EndCallerHangup {
		t.Fatalf("end reason = %q, want caller_hangup (the failed move's reason was taken back)", why)
	}
}

// liveCallState reads whether the call has ended and holds a slot.
func liveCallState(t *testing.T, db *store.DB, callSID string) (ended, active bool) {
	t.Helper()
	var endedAt *int64
	var act int
	if err := db.SQL.QueryRowContext(context.Background(), `SELECT ended_at, active FROM calls WHERE call_sid = $1`, callSID).Scan(&endedAt, &act); err != nil {
		t.Fatal(err)
	}
	return endedAt != nil, act == 1
}

// TestAgentMovesTheCallerIntoAConference: the model's add_to_conference
// tool moves the caller. Twilio ends the media stream as it applies the
// move, which ends the call's relay and the tool's own context; the
// contact must still be dialled in, and the call stays live.
func TestAgentMovesTheCallerIntoAConference(t *testing.T) {
	db := storetest.SQLite(t)
	r := newLiveRig(t, db, nil)
	op := &opAPI{t: t, srv: r.srv, tw: r.rest}
	if resp, body := op.call(http.MethodPost, "/api/contacts", `{"name":"Alice Example","phoneNumber":"+15555550101"}`, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create contact = %d %s", resp.StatusCode, body)
	}
	media, callSID := r.call(t, "+15555550144")
	greeted(t, media)
	r.rest.OnCallUpdate(func(sid string) {
		if sid == callSID {
			_ = media.Stop()
			<-media.Done()
		}
	})
	r.rt.NextResponseCallsTool("add_to_conference", `{"contact_name":"Alice Example"}`)
	if err := media.SendSpeech(25); err != nil {
		t.Fatal(err)
	}
	_ = media.SendSilence(40)

	parts, err := r.rest.WaitRequests(ctxFor(t), fake.OpCreateParticipant, 1)
	if err != nil {
		t.Fatalf("contact never dialled after the stream ended: %v", err)
	}
	if got := parts[0].Form.Get("To"); got != "+15555550101" {
		t.Fatalf("participant To = %q", got)
	}
	<-media.Done()
	if ended, active := liveCallState(t, db, callSID); ended || !active {
		t.Fatalf("after the agent's move: ended=%v active=%v, want a live call", ended, active)
	}
	if why, _ := endReasonOf(t, db, callSID); why != voice.EndTransferred {
		t.Fatalf("end reason after the agent's move = %q, want transferred", why)
	}
}
