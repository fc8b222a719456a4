package e2e

import (
	"github.com/voiceagent/voiceagent/internal/poll"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/sim"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// TestCallEnd: POST /api/calls/{callSid}/end hangs up a live call through
// Twilio (Status=completed) and records the end reason operator, for an
// outbound call still ringing and for an incoming call in its stream
// (whose stream Twilio ends as it hangs up: that end is not taken for the
// caller's). 404 for an unknown call, 409 for one that has ended, 502
// when Twilio refuses (the call stays live, no reason recorded). On
// SQLite and PostgreSQL.
func TestCallEnd(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, rigOptions{DB: db, Env: outboundEnv(nil)})
		ctx := ctxFor(t, 30*time.Second)

		sid := r.placeOutbound(ctx, t, `{"to":"`+outCallee+`"}`)
		// Twilio refuses once: 502, and the call is as it was.
		r.rest.Fail(fake.OpUpdateCall, 500, 20500, 1)
		if res := r.apiDo(ctx, t, "POST", "/api/calls/"+sid+"/end", ""); res.Status != 502 || res.code() != "upstream_error" {
			t.Fatalf("end with Twilio failing = %d %s", res.Status, res.Body)
		}
		if c := r.callRecord(ctx, t, sid); c.EndedAt != nil || c.EndReason != "" || !c.Active {
			t.Fatalf("after a refused end: %+v", c)
		}
		res := r.apiDo(ctx, t, "POST", "/api/calls/"+sid+"/end", "")
		if res.Status != 200 || !strings.Contains(string(res.Body), `"endReason":"operator"`) {
			t.Fatalf("end = %d %s", res.Status, res.Body)
		}
		ups := r.rest.Requests(fake.OpUpdateCall)
		last := ups[len(ups)-1]
		if len(ups) != 2 || last.Form.Get("Status") != "completed" || !strings.HasSuffix(last.Path, "/Calls/"+sid+".json") || !r.rest.Ended(sid) {
			t.Fatalf("Twilio updates = %+v", ups)
		}
		if c := r.callRecord(ctx, t, sid); c.EndedAt == nil || c.EndReason != voice.EndOperator || c.Active {
			t.Fatalf("ended call = %+v", c)
		}
		if res := r.apiDo(ctx, t, "POST", "/api/calls/"+sid+"/end", ""); res.Status != 409 || res.code() != "conflict" {
			t.Fatalf("second end = %d %s", res.Status, res.Body)
		}
		unknown := "CA" + strings.Repeat("0", 31) + "7"
		if res := r.apiDo(ctx, t, "POST", "/api/calls/"+unknown+"/end", ""); res.Status != 404 || res.code() != "not_found" {
			t.Fatalf("unknown call = %d %s", res.Status, res.Body)
		}
		if res := r.apiDo(ctx, t, "POST", "/api/calls/CA123/end", ""); res.Status != 400 {
			t.Fatalf("malformed CallSid = %d %s", res.Status, res.Body)
		}

		// An incoming call in its stream: Twilio ends the stream as it
		// hangs up (the fake stops the media client before answering).
		a, media := r.call(ctx, t, "+15555550111", fake.MediaOptions{})
		if err := poll.Until(ctx, func() bool { return r.callRecord(ctx, t, a.CallSID()).AnsweredAt != nil }); err != nil {
			t.Fatal(err)
		}
		r.rest.OnCallUpdate(func(callSID string) {
			if callSID == a.CallSID() {
				_ = media.Stop()
				<-media.Done()
			}
		})
		if res := r.apiDo(ctx, t, "POST", "/api/calls/"+a.CallSID()+"/end", ""); res.Status != 200 {
			t.Fatalf("end incoming = %d %s", res.Status, res.Body)
		}
		if err := poll.Until(ctx, func() bool { return r.callRecord(ctx, t, a.CallSID()).EndedAt != nil }); err != nil {
			t.Fatal(err)
		}
		if c := r.callRecord(ctx, t, a.CallSID()); c.EndReason != voice.EndOperator || c.Active {
			t.Fatalf("incoming call ended by the operator = %+v", c)
		}
		// A refused call is not live.
		blocked := r.apiDo(ctx, t, "PUT", "/api/callers/blocked/%2B15555550113", "")
		if blocked.Status != 201 {
			t.Fatalf("block = %d", blocked.Status)
		}
		ref, err := r.target.Place(ctx, "+15555550113", sim.ServiceNumber)
		if err != nil || ref.Decision() != "reject" {
			t.Fatalf("blocked call = %v %v", ref, err)
		}
		if res := r.apiDo(ctx, t, "POST", "/api/calls/"+ref.CallSID()+"/end", ""); res.Status != 409 {
			t.Fatalf("end of a refused call = %d %s", res.Status, res.Body)
		}
	})
}
