package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// streamOf returns the <Connect><Stream> of an answer: its URL and
// parameters.
func streamOf(t *testing.T, n xmlNode) (string, map[string]string) {
	t.Helper()
	if n.shape() != "Connect(Stream(Parameter,Parameter))" && n.shape() != "Connect(Stream(Parameter))" {
		t.Fatalf("stream answer shape = %q", n.shape())
	}
	s := n.Nodes[0].Nodes[0]
	params := map[string]string{}
	for _, p := range s.Nodes {
		params[p.attr("name")] = p.attr("value")
	}
	return s.attr("url"), params
}

func tokenOf(t *testing.T, streamURL string) string {
	t.Helper()
	const prefix = "wss://voice.example.test/media-stream/"
	if !strings.HasPrefix(streamURL, prefix) || strings.ContainsAny(streamURL, "?#") {
		t.Fatalf("stream URL = %q", streamURL)
	}
	return strings.TrimPrefix(streamURL, prefix)
}

// TestAcceptStreamToken: /voice/accept answers <Connect><Stream> with a
// one-time token bound to the CallSid; the token redeems once; a retry
// replaces it; only its hash is stored.
func TestAcceptStreamToken(t *testing.T) {
	srv := newVoiceServer(t, nil)
	ctx := context.Background()
	p := incomingParams(1, caller)
	postTwilio(t, srv, "/voice/incoming", p, nil)

	p.Set("Digits", "")
	p.Set("msg", "Gather End")
	st, body := postTwilio(t, srv, "/voice/accept", p, nil)
	if st != 200 {
		t.Fatalf("accept = %d %s", st, body)
	}
	u1, params := streamOf(t, parseResponse(t, body))
	tok1 := tokenOf(t, u1)
	if params["callSid"] != p.Get("CallSid") || params["caller"] != caller {
		t.Fatalf("parameters = %v", params)
	}

	// Twilio retries: a new token, the old one dies, the call still has one.
	_, body = postTwilio(t, srv, "/voice/accept", p, nil)
	u2, _ := streamOf(t, parseResponse(t, body))
	tok2 := tokenOf(t, u2)
	if tok1 == tok2 {
		t.Fatal("retry reused the token")
	}
	if _, err := srv.Voice.RedeemStreamToken(ctx, tok1); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("replaced token: %v", err)
	}
	got, err := srv.Voice.RedeemStreamToken(ctx, tok2)
	if err != nil || got != p.Get("CallSid") {
		t.Fatalf("redeem = %q, %v", got, err)
	}
	if _, err := srv.Voice.RedeemStreamToken(ctx, tok2); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("second redeem: %v", err)
	}
	// Once used, a late retry gets an empty answer, not a second stream.
	_, body = postTwilio(t, srv, "/voice/accept", p, nil)
	if n := parseResponse(t, body); len(n.Nodes) != 0 {
		t.Fatalf("late retry = %s", body)
	}

	var rows, plain int
	srv.DB.SQL.QueryRow(`SELECT COUNT(*) FROM stream_tokens`).Scan(&rows)
	srv.DB.SQL.QueryRow(`SELECT COUNT(*) FROM stream_tokens WHERE token_hash = $1 OR twiml LIKE $2`, tok2, "%"+tok2+"%").Scan(&plain)
	if rows != 1 || plain != 0 {
		t.Fatalf("stream_tokens rows = %d, with the token in clear = %d", rows, plain)
	}
}

// TestAcceptRunsThePolicyForUnknownCalls: a number pointed straight at
// /voice/accept or /twiml does not skip the caller controls.
func TestAcceptRunsThePolicyForUnknownCalls(t *testing.T) {
	srv := newVoiceServer(t, map[string]string{"CALLER_BLACKLIST": caller})
	for i, path := range []string{"/voice/accept", "/twiml"} {
		p := incomingParams(10+i, caller)
		_, body := postTwilio(t, srv, path, p, nil)
		checkAnswer(t, parseResponse(t, body), voice.Reject)
		if c := callRecord(t, srv, p.Get("CallSid")); c.Reason != voice.ReasonBlockedNumber {
			t.Fatalf("%s: record = %+v", path, c)
		}
	}
	// A call the policy refused never gets a stream later either.
	p := incomingParams(20, caller)
	postTwilio(t, srv, "/voice/incoming", p, nil)
	_, body := postTwilio(t, srv, "/voice/accept", p, nil)
	checkAnswer(t, parseResponse(t, body), voice.Reject)
}

// TestTwiMLEndpoint: ALL /twiml answers the stream for signed POST and GET;
// with a PUBLIC_URL that is not https it refuses (500, no TwiML).
func TestTwiMLEndpoint(t *testing.T) {
	srv := newVoiceServer(t, nil)
	_, body := postTwilio(t, srv, "/twiml", incomingParams(1, caller), nil)
	u, _ := streamOf(t, parseResponse(t, body))
	tokenOf(t, u)

	req, err := fake.SignedRequest(context.Background(), http.MethodGet, srv.URL, apptest.PublicURL, "/twiml", apptest.AuthToken, incomingParams(2, caller))
	if err != nil {
		t.Fatal(err)
	}
	st, body := send(t, req)
	if st != 200 {
		t.Fatalf("GET /twiml = %d %s", st, body)
	}
	u, params := streamOf(t, parseResponse(t, body))
	tokenOf(t, u)
	if params["callSid"] != incomingParams(2, caller).Get("CallSid") {
		t.Fatalf("GET parameters = %v", params)
	}

	// Not https: 500 with the generic error; the reason is logged only.
	logs := &apptest.LogBuffer{}
	e := apptest.Env()
	e["REALTIME_URL"], e["PUBLIC_URL"] = "ws://127.0.0.1:1/v1/realtime", "http://voice.example.test"
	plain := apptest.New(t, apptest.Options{Env: e, Logs: logs})
	req, _ = fake.SignedRequest(context.Background(), http.MethodPost, plain.URL, "http://voice.example.test", "/twiml", apptest.AuthToken, incomingParams(3, caller))
	st, body = send(t, req)
	if st != 500 || strings.Contains(string(body), "<Response") {
		t.Fatalf("http PUBLIC_URL: %d %s", st, body)
	}
	if got := decodeError(t, body).Error; got.Code != "internal" || got.Message != "internal error" || strings.Contains(string(body), "PUBLIC_URL") || strings.Contains(string(body), "https") {
		t.Fatalf("http PUBLIC_URL answer = %s, want the generic internal error", body)
	}
	if out := logs.String(); !strings.Contains(out, "PUBLIC_URL must be https") || !strings.Contains(out, `"level":"ERROR"`) {
		t.Fatalf("refusal not logged:\n%s", out)
	}
}

// TestDrainingAnswersBusy: during shutdown new calls get busy TwiML (never
// the JSON 503) while status callbacks keep working.
func TestDrainingAnswersBusy(t *testing.T) {
	srv := newVoiceServer(t, nil)
	live := incomingParams(1, caller)
	postTwilio(t, srv, "/voice/incoming", live, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv.Server.Drain(ctx)

	p := incomingParams(2, otherCaller)
	st, body := postTwilio(t, srv, "/voice/incoming", p, nil)
	if st != 200 {
		t.Fatalf("draining incoming = %d %s", st, body)
	}
	checkAnswer(t, parseResponse(t, body), voice.Busy)
	if c := callRecord(t, srv, p.Get("CallSid")); c.Reason != voice.ReasonDraining {
		t.Fatalf("record = %+v", c)
	}
	status := url.Values{"CallSid": {live.Get("CallSid")}, "CallStatus": {"in-progress"}}
	if st, body := postTwilio(t, srv, "/voice/status", status, nil); st != 200 {
		t.Fatalf("draining status = %d %s", st, body)
	}
	// The already-answered call still gets its stream (a call that has
	// ended gets <Hangup/>: TestStreamTokensDieWithTheirCall).
	_, body = postTwilio(t, srv, "/voice/accept", incomingParams(1, caller), nil)
	streamOf(t, parseResponse(t, body))
}

// TestHostileCallerValues: caller-controlled values cannot change the
// TwiML, reach it unescaped, or cause a 5xx.
func TestHostileCallerValues(t *testing.T) {
	srv := newVoiceServer(t, nil)
	hostile := []string{
		`</Say><Dial>+19005550100</Dial><Say>`,
		`"/><Redirect>https://evil.example/</Redirect><x a="`,
		"]]><Hangup/>\x00\x01\u202e&amp;&lt;",
		strings.Repeat("A", 5000),
	}
	for i, h := range hostile {
		p := incomingParams(100+i, caller)
		p.Set("CallerName", h)
		p.Set("FromCity", h)
		p.Set("Unknown"+string(rune('A'+i)), h)
		st, body := postTwilio(t, srv, "/voice/incoming", p, nil)
		if st != 200 {
			t.Fatalf("%d: incoming = %d %s", i, st, body)
		}
		checkAnswer(t, parseResponse(t, body), voice.Accept)

		// A hostile From is not E.164: the call is anonymous, never echoed.
		p.Set("From", h)
		st, body = postTwilio(t, srv, "/voice/accept", p, nil)
		if st != 200 {
			t.Fatalf("%d: accept = %d %s", i, st, body)
		}
		_, params := streamOf(t, parseResponse(t, body))
		if len(params) != 2 || params["caller"] != caller {
			t.Fatalf("%d: parameters = %v", i, params)
		}
		if strings.Contains(string(body), "Dial") || strings.Contains(string(body), "evil") {
			t.Fatalf("%d: hostile value reached TwiML: %s", i, body)
		}
		if c := callRecord(t, srv, p.Get("CallSid")); len([]rune(c.CallerName)) > 64 || strings.ContainsRune(c.CallerName, 0) {
			t.Fatalf("%d: stored caller name %q", i, c.CallerName)
		}
	}
	// Numbers that are not E.164 anywhere: never a 5xx.
	for i, from := range []string{"", "anonymous", "+0000", "+1 555 555 0100", "+15555550100<", "Restricted"} {
		p := incomingParams(200+i, from)
		p.Set("To", from)
		if st, body := postTwilio(t, srv, "/voice/incoming", p, nil); st != 200 {
			t.Fatalf("From %q: %d %s", from, st, body)
		}
	}
}

// TestInboundLogsLeakNothing: the log of a run of decisions, refusals and
// list changes holds no secret and no caller number in clear.
func TestInboundLogsLeakNothing(t *testing.T) {
	logs := &apptest.LogBuffer{}
	srv := apptest.New(t, apptest.Options{Logs: logs, Env: map[string]string{
		"REALTIME_URL": "ws://127.0.0.1:1/v1/realtime", "CALLER_BLACKLIST": otherCaller, "LOG_LEVEL": "debug",
	}})
	var bodies strings.Builder
	p := incomingParams(1, caller)
	for _, path := range []string{"/voice/incoming", "/voice/accept", "/voice/status"} {
		_, b := postTwilio(t, srv, path, p, nil)
		bodies.Write(b)
	}
	_, b := postTwilio(t, srv, "/voice/incoming", incomingParams(2, otherCaller), nil)
	bodies.Write(b)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/voice/incoming", strings.NewReader(p.Encode()))
	req.Header.Set("X-Twilio-Signature", "forged")
	send(t, req)
	apiDo(t, srv, http.MethodPut, "/api/callers/blocked/%2B15555550177")
	srv.Audit.Flush(context.Background())
	if !strings.Contains(logs.String(), "call decision") || !strings.Contains(logs.String(), "Twilio webhook refused") {
		t.Fatalf("expected log lines missing:\n%s", logs.String())
	}
	apptest.AssertNoLeaks(t, "log", logs.String(), srv.Config, caller, otherCaller, "+15555550177")
	// The stream answer names the caller (Twilio hands it to the agent);
	// the other answers carry no number.
	apptest.AssertNoLeaks(t, "bodies", strings.ReplaceAll(bodies.String(), caller, ""), srv.Config, caller, otherCaller)
}
