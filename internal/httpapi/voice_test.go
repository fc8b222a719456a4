package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/voiceagent/voiceagent/internal/app"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

const (
	caller      = "+15555550100"
	otherCaller = "+15555550101"
)

// newVoiceServer starts the real server; the model URL points at a closed
// loopback port so the pre-warm /voice/accept triggers stays local.
func newVoiceServer(t *testing.T, env map[string]string, opts ...app.Options) *apptest.Server {
	t.Helper()
	e := map[string]string{"REALTIME_URL": "ws://127.0.0.1:1/v1/realtime"}
	for k, v := range env {
		e[k] = v
	}
	o := apptest.Options{Env: e}
	if len(opts) > 0 {
		o.App = opts[0]
	}
	return apptest.New(t, o)
}

func callRecord(t *testing.T, srv *apptest.Server, callSID string) voice.Call {
	t.Helper()
	c, err := srv.DB.Calls().FindCall(context.Background(), callSID, "")
	if err != nil {
		t.Fatalf("call %s: %v", callSID, err)
	}
	return c
}

func decisionCount(t *testing.T, srv *apptest.Server, d, reason string) float64 {
	t.Helper()
	var m dto.Metric
	if err := srv.Metrics.CallsByDecision.WithLabelValues(d, reason).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// checkAnswer asserts the structure of a decision's TwiML.
func checkAnswer(t *testing.T, n xmlNode, d voice.Decision) {
	t.Helper()
	switch d {
	case voice.Accept:
		if n.shape() != "Gather,Redirect" {
			t.Fatalf("accept shape = %q", n.shape())
		}
		g, r := n.Nodes[0], n.Nodes[1]
		want := apptest.PublicURL + "/voice/accept"
		if g.attr("action") != want || g.attr("timeout") != "2" || g.attr("actionOnEmptyResult") != "true" || g.attr("method") != "POST" {
			t.Fatalf("Gather attrs = %+v", g.Attrs)
		}
		if strings.TrimSpace(r.Text) != want {
			t.Fatalf("Redirect = %q", r.Text)
		}
	case voice.Reject, voice.Busy:
		if n.shape() != "Reject" {
			t.Fatalf("reject shape = %q", n.shape())
		}
		want := ""
		if d == voice.Busy {
			want = "busy"
		}
		if got := n.Nodes[0].attr("reason"); got != want {
			t.Fatalf("Reject reason = %q, want %q", got, want)
		}
	case voice.Hangup:
		if n.shape() != "Say,Hangup" || strings.TrimSpace(n.Nodes[0].Text) != voice.NotAuthorizedMessage {
			t.Fatalf("hangup answer = %q %q", n.shape(), n.Nodes[0].Text)
		}
	}
}

// TestPolicy runs each caller control through the real router: the TwiML
// (parsed), the call record and the audit row it leaves.
func TestPolicy(t *testing.T) {
	rest := fake.NewTwilioREST(apptest.AccountSID, apptest.AccountSID, apptest.AuthToken)
	t.Cleanup(rest.Close)
	rest.SetCallerName(caller, fake.CallerName{Name: "EXAMPLE PERSON", Type: "CONSUMER"})
	rest.SetCallerName(otherCaller, fake.CallerName{Name: "EXAMPLE CO", Type: "BUSINESS"})
	withREST := app.Options{TwilioHTTPClient: rest.HTTPClient()}

	type step struct {
		from, to, country string
		decision          voice.Decision
		reason            string
	}
	cases := []struct {
		name  string
		env   map[string]string
		setup func(t *testing.T, srv *apptest.Server)
		steps []step
	}{
		{name: "always accept", steps: []step{{from: caller, decision: voice.Accept}}},
		{name: "anonymous caller accepted", steps: []step{{from: "anonymous", decision: voice.Accept}}},
		{name: "deny list from the environment", env: map[string]string{"CALLER_BLACKLIST": caller},
			steps: []step{{from: caller, decision: voice.Reject, reason: voice.ReasonBlockedNumber}, {from: otherCaller, decision: voice.Accept}}},
		{name: "deny list from the API applies to the next call", setup: func(t *testing.T, srv *apptest.Server) {
			if st, b := apiDo(t, srv, http.MethodPut, "/api/callers/blocked/%2B15555550100"); st != 201 {
				t.Fatalf("PUT = %d %s", st, b)
			}
		}, steps: []step{{from: caller, decision: voice.Reject, reason: voice.ReasonBlockedNumber}}},
		{name: "allow list", env: map[string]string{"CALLER_WHITELIST": otherCaller},
			steps: []step{{from: caller, decision: voice.Hangup, reason: voice.ReasonNotAllowed}, {from: "anonymous", decision: voice.Hangup, reason: voice.ReasonNotAllowed}, {from: otherCaller, decision: voice.Accept}}},
		{name: "deny list wins over allow list", env: map[string]string{"CALLER_WHITELIST": caller, "CALLER_BLACKLIST": caller},
			steps: []step{{from: caller, decision: voice.Reject, reason: voice.ReasonBlockedNumber}}},
		{name: "blocked countries", env: map[string]string{"BLOCKED_COUNTRIES": "GB,BR"},
			steps: []step{{from: "+447700900123", country: "GB", decision: voice.Reject, reason: voice.ReasonBlockedCountry}, {from: caller, country: "US", decision: voice.Accept}}},
		{name: "caller-name block-unknown", env: map[string]string{"CALLER_NAME_POLICY": "block-unknown"},
			steps: []step{{from: "+15555550102", decision: voice.Reject, reason: voice.ReasonCallerUnknown}, {from: caller, decision: voice.Accept}}},
		{name: "caller-name business-only", env: map[string]string{"CALLER_NAME_POLICY": "business-only"},
			steps: []step{{from: caller, decision: voice.Reject, reason: voice.ReasonCallerNotBiz}, {from: otherCaller, decision: voice.Accept}}},
		{name: "caller-name lookup failure lets the call through", env: map[string]string{"CALLER_NAME_POLICY": "business-only"}, setup: func(t *testing.T, srv *apptest.Server) {
			rest.Fail(fake.OpLookup, 503, 20503, 1)
		}, steps: []step{{from: "+15555550103", decision: voice.Accept}}},
		{name: "wrong To", env: map[string]string{"TWILIO_PHONE_NUMBER": "+15555550199"},
			steps: []step{{from: caller, to: "+15555550198", decision: voice.Reject, reason: voice.ReasonWrongNumber}, {from: caller, to: "+15555550199", decision: voice.Accept}}},
		{name: "throttled per caller then globally", env: map[string]string{"CALLS_PER_MINUTE": "2"},
			steps: []step{{from: caller, decision: voice.Accept}, {from: caller, decision: voice.Accept},
				{from: caller, decision: voice.Busy, reason: voice.ReasonThrottledCaller},
				{from: otherCaller, decision: voice.Busy, reason: voice.ReasonThrottledGlobal}}},
		{name: "blocked callers do not spend the throttle budget", env: map[string]string{"CALLS_PER_MINUTE": "1", "CALLER_BLACKLIST": otherCaller},
			steps: []step{{from: otherCaller, decision: voice.Reject, reason: voice.ReasonBlockedNumber}, {from: otherCaller, decision: voice.Reject, reason: voice.ReasonBlockedNumber},
				{from: caller, decision: voice.Accept}}},
		{name: "over capacity", env: map[string]string{"MAX_CONCURRENT_CALLS": "1"},
			steps: []step{{from: caller, decision: voice.Accept}, {from: otherCaller, decision: voice.Busy, reason: voice.ReasonCapacity}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newVoiceServer(t, tc.env, withREST)
			if tc.setup != nil {
				tc.setup(t, srv)
			}
			for i, st := range tc.steps {
				p := incomingParams(1000+i, st.from)
				if st.to != "" {
					p.Set("To", st.to)
				}
				if st.country != "" {
					p.Set("FromCountry", st.country)
				}
				status, body := postTwilio(t, srv, "/voice/incoming", p, nil)
				if status != 200 {
					t.Fatalf("step %d: status %d %s", i, status, body)
				}
				checkAnswer(t, parseResponse(t, body), st.decision)

				c := callRecord(t, srv, p.Get("CallSid"))
				if c.Decision != st.decision || c.Reason != st.reason || c.Active != (st.decision == voice.Accept) || c.TwiML != string(body) {
					t.Fatalf("step %d: record = %s/%s active=%v", i, c.Decision, c.Reason, c.Active)
				}
				rows := auditRows(t, srv, "call_decision")
				last := rows[len(rows)-1]
				if last.CallSID != p.Get("CallSid") || last.Detail["decision"] != string(st.decision) || last.Detail["reason"] != st.reason {
					t.Fatalf("step %d: audit = %+v", i, last)
				}
				if from, _ := last.Detail["from"].(string); strings.Contains(from, "5555550") || strings.Contains(from, "7700900") {
					t.Fatalf("step %d: audit holds the number in clear: %q", i, from)
				}
				if decisionCount(t, srv, string(st.decision), st.reason) < 1 {
					t.Fatalf("step %d: decision not counted", i)
				}
			}
		})
	}
}

// apiDo calls the operator API with the test bearer token.
func apiDo(t *testing.T, srv *apptest.Server, method, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apptest.Bearer)
	return send(t, req)
}

// TestIncomingRetry: Twilio retrying /voice/incoming (same CallSid and
// idempotency token) gets identical TwiML and leaves one row and one
// audit event.
func TestIncomingRetry(t *testing.T) {
	srv := newVoiceServer(t, nil)
	p := incomingParams(1, caller)
	h := http.Header{"I-Twilio-Idempotency-Token": {"idem-0001"}}
	_, first := postTwilio(t, srv, "/voice/incoming", p, h)
	_, again := postTwilio(t, srv, "/voice/incoming", p, h)
	_, third := postTwilio(t, srv, "/voice/incoming", p, nil)
	if string(first) != string(again) || string(first) != string(third) {
		t.Fatalf("retry answers differ:\n%s\n%s\n%s", first, again, third)
	}
	var n int
	srv.DB.SQL.QueryRow(`SELECT COUNT(*) FROM calls`).Scan(&n)
	if n != 1 {
		t.Fatalf("rows = %d, want 1", n)
	}
	if rows := auditRows(t, srv, "call_decision"); len(rows) != 1 {
		t.Fatalf("audit rows = %d, want 1", len(rows))
	}
}

// TestCapacityFreedByStatusAndLiveCallUntouched: over the cap a new call
// is busy while the live one keeps its slot; a completed status callback
// frees it; a call the relay ends frees it too.
func TestCapacityFreedByStatusAndLiveCallUntouched(t *testing.T) {
	srv := newVoiceServer(t, map[string]string{"MAX_CONCURRENT_CALLS": "1"})
	ctx := context.Background()
	live := incomingParams(1, caller)
	postTwilio(t, srv, "/voice/incoming", live, nil)
	_, body := postTwilio(t, srv, "/voice/incoming", incomingParams(2, otherCaller), nil)
	checkAnswer(t, parseResponse(t, body), voice.Busy)
	if c := callRecord(t, srv, live.Get("CallSid")); !c.Active || c.EndedAt != nil {
		t.Fatalf("live call changed: %+v", c)
	}

	status := url.Values{"CallSid": {live.Get("CallSid")}, "CallStatus": {"completed"}, "CallDuration": {"42"}, "SequenceNumber": {"3"}}
	if st, b := postTwilio(t, srv, "/voice/status", status, nil); st != 200 {
		t.Fatalf("status callback = %d %s", st, b)
	}
	c := callRecord(t, srv, live.Get("CallSid"))
	if c.Active || c.Status != "completed" || c.DurationSec == nil || *c.DurationSec != 42 || c.EndedAt == nil {
		t.Fatalf("after completed: %+v", c)
	}
	next := incomingParams(3, otherCaller)
	_, body = postTwilio(t, srv, "/voice/incoming", next, nil)
	checkAnswer(t, parseResponse(t, body), voice.Accept)

	// The relay's lifecycle calls free the slot as well.
	if err := srv.Voice.MarkStreamStarted(ctx, next.Get("CallSid")); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Voice.EndCall(ctx, voice.CallEnd{CallSID: next.Get("CallSid"), Reason: voice.EndCallerHangup, By: "test"}); err != nil {
		t.Fatal(err)
	}
	_, body = postTwilio(t, srv, "/voice/incoming", incomingParams(4, otherCaller), nil)
	checkAnswer(t, parseResponse(t, body), voice.Accept)
}

// TestCapacityAcrossInstances: two servers on one PostgreSQL database
// share MAX_CONCURRENT_CALLS.
func TestCapacityAcrossInstances(t *testing.T) {
	dbA, dsn := storetest.PostgresURL(t)
	dbB, err := store.Open(context.Background(), dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbB.Close() })
	env := map[string]string{"MAX_CONCURRENT_CALLS": "1", "REALTIME_URL": "ws://127.0.0.1:1/v1/realtime"}
	a := apptest.New(t, apptest.Options{DB: dbA, Env: env})
	b := apptest.New(t, apptest.Options{DB: dbB, Env: env})
	_, body := postTwilio(t, a, "/voice/incoming", incomingParams(1, caller), nil)
	checkAnswer(t, parseResponse(t, body), voice.Accept)
	_, body = postTwilio(t, b, "/voice/incoming", incomingParams(2, otherCaller), nil)
	checkAnswer(t, parseResponse(t, body), voice.Busy)
	// Twilio's retry of the first call reaching the other instance gets
	// the same answer.
	_, retry := postTwilio(t, b, "/voice/incoming", incomingParams(1, caller), nil)
	checkAnswer(t, parseResponse(t, retry), voice.Accept)
}
