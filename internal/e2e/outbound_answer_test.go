package e2e

import (
	"context"
	"encoding/json"
	"github.com/voiceagent/voiceagent/internal/poll"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/sim"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

const firstWords = "Hello, this is Example Clinic calling about your appointment."

// placeOutbound places a call through the API and returns its CallSid.
func (r *rig) placeOutbound(ctx context.Context, t *testing.T, body string) string {
	t.Helper()
	res := r.placeCall(ctx, t, body, 202, "")
	var p struct{ CallSid string }
	if err := json.Unmarshal(res.Body, &p); err != nil || !voice.ValidCallSID(p.CallSid) {
		t.Fatalf("placed = %s", res.Body)
	}
	return p.CallSid
}

// answerOutbound plays the callee answering through the fake Twilio and
// parses the TwiML the server answered.
func (r *rig) answerOutbound(ctx context.Context, t *testing.T, sid, answeredBy string) sim.Answer {
	t.Helper()
	ans, err := r.rest.AnswerCall(ctx, sid, answeredBy)
	if err != nil || ans.Status != 200 {
		t.Fatalf("answering webhook = %d %s (%v)", ans.Status, ans.Body, err)
	}
	r.bodies.observe("webhook", "/voice/outbound", ans.Status, ans.Body)
	tw, err := sim.ParseTwiML(ans.Body)
	if err != nil {
		t.Fatal(err)
	}
	return tw
}

func (r *rig) callRecord(ctx context.Context, t *testing.T, sid string) voice.Call {
	t.Helper()
	c, err := r.srv.DB.Calls().FindCall(ctx, sid, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOutboundAnswered: an outbound call end to end through the router, the relay
// and the fake Realtime model. The fake Twilio places the call and then
// fetches the signed answering webhook as Twilio does when the callee
// answers; the server answers <Connect><Stream> with a one-time token;
// the stream runs the call's agent with the operator's context added to
// its instructions for this call only, and the agent speaks first. A
// machine answering a call with machineDetection=hangup gets <Hangup/>
// and the end reason machine; an unknown or ended CallSid gets <Hangup/>
// and nothing is minted. On SQLite and PostgreSQL.
func TestOutboundAnswered(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, rigOptions{DB: db, Env: outboundEnv(nil), Realtime: fake.RealtimeOptions{Responses: []fake.ScriptedResponse{{Transcript: firstWords}}}})
		ctx := ctxFor(t, 30*time.Second)
		res := r.apiDo(ctx, t, "POST", "/api/agents", `{"name":"Reminders","instructions":"You call patients for Example Clinic.","greeting":"Say: hello, this is Example Clinic.","voice":"verse","model":"gpt-realtime","tools":["end_call"],"dialPolicy":"none"}`)
		var agent struct{ ID string }
		if err := json.Unmarshal(res.Body, &agent); err != nil || agent.ID == "" {
			t.Fatalf("agent = %s", res.Body)
		}
		const reminder = "Remind Ana about her 3 pm appointment tomorrow."
		sid := r.placeOutbound(ctx, t, `{"to":"`+outCallee+`","agentId":"`+agent.ID+`","context":"`+reminder+`","machineDetection":"hangup"}`)
		if c := r.callRecord(ctx, t, sid); c.AgentID != agent.ID || c.Direction != voice.DirectionOutbound {
			t.Fatalf("record = %+v", c)
		}

		before := len(r.rt.Sessions())
		tw := r.answerOutbound(ctx, t, sid, "human")
		streamURL, params, ok := tw.Stream()
		if !ok || !strings.HasPrefix(streamURL, "wss://voice.example.test/media-stream/") || params["callSid"] != sid || params["caller"] != outCallee {
			t.Fatalf("answer = %+v", tw)
		}
		media, err := r.target.DialStream(ctx, streamURL, fake.MediaOptions{CallSid: sid, AccountSid: r.rest.AccountSID, CustomParameters: params})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if !media.Closed() {
				media.Drop()
			}
		})
		s, err := r.rt.WaitSession(ctx, before+1)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.WaitFor(ctx, func() bool { return len(s.Responses()) > 0 }); err != nil {
			t.Fatal(err)
		}
		var sess struct {
			Instructions string
			Audio        struct{ Output struct{ Voice string } }
		}
		if err := json.Unmarshal(s.SessionUpdates()[0], &sess); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sess.Instructions, "You call patients for Example Clinic.") || !strings.Contains(sess.Instructions, reminder) ||
			!strings.Contains(sess.Instructions, "outbound call") || sess.Audio.Output.Voice != "verse" {
			t.Fatalf("session.update = %s", s.SessionUpdates()[0])
		}
		first := s.Responses()[0]
		if !strings.Contains(first.Instructions, reminder) || !strings.Contains(first.Instructions, "hello, this is Example Clinic") {
			t.Fatalf("first response instructions = %q", first.Instructions)
		}
		// The agent's first words reach the callee (audio) and the
		// call's transcript.
		if err := poll.Until(ctx, func() bool { return agentSaid(ctx, r.srv.DB, sid) == firstWords }); err != nil {
			t.Fatalf("agent transcript = %q: %v", agentSaid(ctx, r.srv.DB, sid), err)
		}
		if err := media.WaitFor(ctx, func() bool { return media.ReceivedBytes() > 0 }); err != nil {
			t.Fatalf("no agent audio reached the callee: %v", err)
		}

		// A retry of the answering webhook once the stream runs mints no
		// second token (an empty answer); a request signed for another
		// webhook is refused before anything is read.
		if tw := r.answerOutbound(ctx, t, sid, "human"); len(tw.Verbs) != 0 {
			t.Fatalf("retry while streaming = %+v", tw)
		}
		if n := streamTokens(ctx, t, r.srv.DB, sid); n != 1 {
			t.Fatalf("%d stream tokens after a retry, want 1", n)
		}
		form := url.Values{"CallSid": {sid}, "AccountSid": {r.rest.AccountSID}, "AnsweredBy": {"human"}}
		req, err := http.NewRequestWithContext(ctx, "POST", r.srv.URL+"/voice/outbound", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", fake.Signature(apptest.AuthToken, apptest.PublicURL+"/voice/accept", form))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("answering webhook signed for /voice/accept = %d, want 403", resp.StatusCode)
		}

		// The context was for that call only: an incoming call to the
		// same agent's number carries none.
		if res := r.apiDo(ctx, t, "PUT", "/api/numbers/"+url.PathEscape(outAgentNo), `{"agentId":"`+agent.ID+`"}`); res.Status != 201 {
			t.Fatalf("assign = %d %s", res.Status, res.Body)
		}
		_, s2 := r.streamedCall(ctx, t, "+15555550111", outAgentNo)
		if err := s2.WaitFor(ctx, func() bool { return len(s2.SessionUpdates()) > 0 }); err != nil {
			t.Fatal(err)
		}
		var sess2 struct{ Instructions string }
		_ = json.Unmarshal(s2.SessionUpdates()[0], &sess2)
		if sess2.Instructions != "You call patients for Example Clinic." {
			t.Fatalf("incoming call's instructions = %q", sess2.Instructions)
		}

		// A machine answers a call that asked for machine detection.
		sessions := len(r.rt.Sessions())
		msid := r.placeOutbound(ctx, t, `{"to":"`+outCallee2+`","machineDetection":"hangup"}`)
		tw = r.answerOutbound(ctx, t, msid, "machine_end_beep")
		if tw.Decision() != "hangup" || len(tw.Verbs) != 1 {
			t.Fatalf("machine answer = %+v", tw)
		}
		mc := r.callRecord(ctx, t, msid)
		if mc.EndReason != voice.EndMachine || mc.EndedAt == nil || mc.Active {
			t.Fatalf("machine call record = %+v", mc)
		}
		// Ended: a retry of the webhook mints nothing either.
		if tw := r.answerOutbound(ctx, t, msid, "human"); tw.Decision() != "hangup" {
			t.Fatalf("retry after the end = %+v", tw)
		}
		if n := streamTokens(ctx, t, r.srv.DB, msid); n != 0 {
			t.Fatalf("%d stream tokens minted for the machine's call", n)
		}
		if got := len(r.rt.Sessions()); got != sessions {
			t.Fatalf("model sessions %d -> %d for a machine", sessions, got)
		}

		// Unknown CallSids and incoming calls get <Hangup/>.
		unknown := "CA" + strings.Repeat("0", 31) + "9"
		code, body, err := r.target.Webhook(ctx, "/voice/outbound", url.Values{"CallSid": {unknown}, "AccountSid": {r.rest.AccountSID}, "CallStatus": {"in-progress"}})
		if err != nil || code != 200 || !strings.Contains(string(body), "<Hangup") {
			t.Fatalf("unknown CallSid = %d %s %v", code, body, err)
		}
		a, err := r.target.Place(ctx, "+15555550112", sim.ServiceNumber)
		if err != nil {
			t.Fatal(err)
		}
		code, body, err = r.target.Webhook(ctx, "/voice/outbound", url.Values{"CallSid": {a.CallSID()}, "AccountSid": {r.rest.AccountSID}})
		if err != nil || code != 200 || !strings.Contains(string(body), "<Hangup") {
			t.Fatalf("incoming CallSid on /voice/outbound = %d %s %v", code, body, err)
		}
		r.assertNoLeaks(t, outboundNumbers...)
	})
}

func agentSaid(ctx context.Context, db *store.DB, sid string) string {
	var text string
	_ = db.SQL.QueryRowContext(ctx, `SELECT text FROM transcripts WHERE call_sid = $1 AND role = 'agent' ORDER BY id LIMIT 1`, sid).Scan(&text)
	return text
}

func streamTokens(ctx context.Context, t *testing.T, db *store.DB, sid string) int {
	t.Helper()
	var n int
	if err := db.SQL.QueryRowContext(ctx, `SELECT COUNT(*) FROM stream_tokens WHERE call_sid = $1`, sid).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOutboundToolCaller: on a call the agent placed, an HTTP tool with
// includeCaller gets the callee as "caller" (the other party), never the
// service's own number.
func TestOutboundToolCaller(t *testing.T) {
	endpoint := &toolEndpoint{}
	biz := httptest.NewServer(endpoint)
	t.Cleanup(biz.Close)
	r := newRig(t, rigOptions{Env: outboundEnv(map[string]string{"TOOL_ALLOWED_NETWORKS": "127.0.0.0/8"})})
	ctx := ctxFor(t, 30*time.Second)
	res := r.apiDo(ctx, t, "POST", "/api/tools", `{"name":"note_call","description":"Note the call","url":"`+biz.URL+`/note","includeCaller":true,
		"parameters":{"type":"object","properties":{},"additionalProperties":false}}`)
	var tool struct{ Secret string }
	if err := json.Unmarshal(res.Body, &tool); err != nil || tool.Secret == "" {
		t.Fatalf("tool = %s", res.Body)
	}
	endpoint.mu.Lock()
	endpoint.secret = tool.Secret
	endpoint.mu.Unlock()
	res = r.apiDo(ctx, t, "POST", "/api/agents", `{"name":"Notes","instructions":"You note calls.","greeting":"Say: hello.","voice":"alloy","model":"gpt-realtime","tools":["note_call"],"dialPolicy":"none"}`)
	var agent struct{ ID string }
	if err := json.Unmarshal(res.Body, &agent); err != nil || agent.ID == "" {
		t.Fatalf("agent = %s", res.Body)
	}
	r.rt.NextResponseCallsTool("note_call", `{}`)
	sid := r.placeOutbound(ctx, t, `{"to":"`+outCallee+`","agentId":"`+agent.ID+`"}`)
	streamURL, params, ok := r.answerOutbound(ctx, t, sid, "").Stream()
	if !ok {
		t.Fatal("no stream")
	}
	media, err := r.target.DialStream(ctx, streamURL, fake.MediaOptions{CallSid: sid, AccountSid: r.rest.AccountSID, CustomParameters: params})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !media.Closed() {
			media.Drop()
		}
	})
	if err := poll.Until(ctx, func() bool { b, _ := endpoint.requests(); return len(b) > 0 }); err != nil {
		t.Fatal(err)
	}
	bodies, verified := endpoint.requests()
	var body struct{ Caller, CallSid string }
	if err := json.Unmarshal(bodies[0], &body); err != nil || !verified[0] || body.Caller != outCallee || body.CallSid != sid {
		t.Fatalf("tool request = %s (verified %v)", bodies[0], verified[0])
	}
}
