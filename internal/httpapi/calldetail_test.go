package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// callDetail is GET /api/calls/{callSid} as a client reads it.
type callDetail struct {
	CallSID   string `json:"callSid"`
	Direction string `json:"direction"`
	AgentID   string `json:"agentId"`
	From      string `json:"from"`
	To        string `json:"to"`
	Status    string `json:"status"`
	Decision  struct {
		Result string  `json:"result"`
		Rule   *string `json:"rule"`
	} `json:"decision"`
	EndReason       *string    `json:"endReason"`
	ReceivedAt      time.Time  `json:"receivedAt"`
	AnsweredAt      *time.Time `json:"answeredAt"`
	EndedAt         *time.Time `json:"endedAt"`
	DurationSeconds *int64     `json:"durationSeconds"`
	Transcript      []struct {
		Speaker string    `json:"speaker"`
		Text    string    `json:"text"`
		At      time.Time `json:"at"`
	} `json:"transcript"`
	Tools []struct {
		Name       string    `json:"name"`
		Outcome    string    `json:"outcome"`
		DurationMs int64     `json:"durationMs"`
		At         time.Time `json:"at"`
	} `json:"tools"`
	Latency struct {
		FirstAudioMs  *int64 `json:"firstAudioMs"`
		ResponseP50Ms *int64 `json:"responseP50Ms"`
		ResponseMaxMs *int64 `json:"responseMaxMs"`
	} `json:"latency"`
	Usage struct {
		InputTokens  int64 `json:"inputTokens"`
		OutputTokens int64 `json:"outputTokens"`
	} `json:"usage"`
}

// TestCallDetailRoute: the route answers the shape (every key,
// nulls for what is not known), masks numbers unless LOGS_SHOW_NUMBERS,
// needs calls:read, and refuses malformed and unknown CallSids.
func TestCallDetailRoute(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	seedCalls(t, srv, 1) // one ended call, one live
	sid := fmt.Sprintf("CA%032x", 1)
	if _, err := srv.DB.SQL.Exec(`INSERT INTO transcripts (call_sid, role, text, created_at) VALUES ($1, 'caller', 'my number is +14155550123', $2)`, sid, store.Millis(time.Now())); err != nil {
		t.Fatal(err)
	}

	resp, body := do(t, "GET", srv.URL+"/api/calls/"+sid, "Bearer "+apptest.Bearer, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("detail = %d %s", resp.StatusCode, body)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"callSid", "direction", "agentId", "from", "to", "status", "decision", "endReason", "receivedAt", "answeredAt",
		"endedAt", "durationSeconds", "transcript", "tools", "latency", "usage"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("key %q missing from %s", k, body)
		}
	}
	if strings.Contains(string(body), "4155550123") || strings.Contains(string(body), "4155550100") {
		t.Fatalf("numbers not masked: %s", body)
	}
	var d callDetail
	json.Unmarshal(body, &d) //nolint:errcheck
	if d.CallSID != sid || d.Direction != "inbound" || d.AgentID != "default" || d.Decision.Result != "accept" || d.Decision.Rule != nil ||
		d.DurationSeconds == nil || *d.DurationSeconds != 30 || len(d.Transcript) != 1 || d.Transcript[0].Speaker != "caller" || d.Tools == nil {
		t.Fatalf("detail = %s", body)
	}

	for path, want := range map[string]int{
		"/api/calls/" + fmt.Sprintf("CA%032x", 99): http.StatusNotFound,
		"/api/calls/CAnot-a-sid":                   http.StatusBadRequest,
		"/api/calls/" + strings.Repeat("A", 300):   http.StatusBadRequest,
		"/api/calls/%2B14155550123":                http.StatusBadRequest,
	} {
		resp, body := do(t, "GET", srv.URL+path, "Bearer "+apptest.Bearer, nil)
		if resp.StatusCode != want {
			t.Errorf("%s = %d %s, want %d", path, resp.StatusCode, body, want)
			continue
		}
		decodeError(t, body)
		if strings.Contains(string(body), "4155550123") {
			t.Errorf("%s: the error echoes a number: %s", path, body)
		}
	}

	_, noScope, err := srv.Tokens.Create(context.Background(), "test", "contacts-only", []apitoken.Scope{apitoken.ContactsRead}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := do(t, "GET", srv.URL+"/api/calls/"+sid, "Bearer "+noScope, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("without calls:read = %d, want 403", resp.StatusCode)
	}
	_, viewer, err := srv.Tokens.Create(context.Background(), "test", "viewer", []apitoken.Scope{apitoken.CallsRead}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := do(t, "GET", srv.URL+"/api/calls/"+sid, "Bearer "+viewer, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("with calls:read = %d, want 200", resp.StatusCode)
	}

	shown := apptest.New(t, apptest.Options{Env: map[string]string{"LOGS_SHOW_NUMBERS": "true"}})
	seedCalls(t, shown, 0)
	var raw callDetail
	getJSON(t, shown, "/api/calls/"+fmt.Sprintf("CA%032x", 1), "127.0.0.1", &raw)
	if raw.From != "+14155550123" || raw.EndReason != nil || raw.EndedAt != nil {
		t.Fatalf("LOGS_SHOW_NUMBERS=true, live call: %+v", raw)
	}
}

// TestCallsListFilterValidation: each new filter refuses a bad value with
// a 400 in the one error shape, and the good ones select.
func TestCallsListFilterValidation(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	seedCalls(t, srv, 3)
	for _, q := range []string{"direction=sideways", "direction=INBOUND", "agentId=agt_x", "agentId=%27%20OR%201%3D1", "since=yesterday",
		"until=2026-13-01T00:00:00Z", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "since=2026-01-01T00:00:00Z&since=2026-01-02T00:00:00Z",
		"agent=default"} {
		resp, body := do(t, "GET", srv.URL+"/api/calls?"+q, "Bearer "+apptest.Bearer, nil)
		if resp.StatusCode != http.StatusBadRequest || decodeError(t, body).Error.Code != "invalid" {
			t.Errorf("?%s = %d %s, want 400 invalid", q, resp.StatusCode, body)
		}
	}
	var p callsPage
	getJSON(t, srv, "/api/calls?direction=outbound", "127.0.0.1", &p)
	if len(p.Calls) != 0 {
		t.Fatalf("outbound calls = %d, want 0", len(p.Calls))
	}
	getJSON(t, srv, "/api/calls?direction=inbound&agentId=default&since="+time.Now().Add(-2*time.Hour).UTC().Format(time.RFC3339)+
		"&until="+time.Now().Add(-time.Hour+90*time.Second).UTC().Format(time.RFC3339), "127.0.0.1", &p)
	if len(p.Calls) != 2 {
		t.Fatalf("calls in the window = %d, want the first two", len(p.Calls))
	}
}

// TestCallDetailAfterASimulatedCall: through the real router and a
// simulated call (fake Twilio media, fake Realtime), the call's details
// match what happened: the greeting and the caller's line in the
// transcript, the lookup_contact tool with its outcome, the timings, the
// token usage and the agent's end of the call; on both engines.
func TestCallDetailAfterASimulatedCall(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		rig := newLiveRig(t, db, nil)
		addContact(t, rig.srv, "Alice Example", "+15555550101")
		sid := detailCall(t, rig)
		d := waitDetail(t, rig, sid)

		if d.EndedAt == nil || d.AnsweredAt == nil || d.DurationSeconds == nil || d.Status == "" || d.Decision.Result != "accept" {
			t.Fatalf("record = %+v", d)
		}
		if d.EndReason == nil || *d.EndReason != "agent_ended" {
			t.Fatalf("end reason = %v, want agent_ended (the model called end_call)", d.EndReason)
		}
		var agent, caller int
		for _, l := range d.Transcript {
			switch {
			case l.Speaker == "agent" && strings.Contains(l.Text, "example voice agent"):
				agent++
			case l.Speaker == "caller" && l.Text == "Please look up Alice.":
				caller++
			}
		}
		if agent == 0 || caller != 1 {
			t.Fatalf("transcript = %+v", d.Transcript)
		}
		if len(d.Tools) != 2 || d.Tools[0].Name != "lookup_contact" || d.Tools[0].Outcome != "ok" || d.Tools[0].At.IsZero() ||
			d.Tools[1].Name != "end_call" || d.Tools[1].Outcome != "ok" {
			t.Fatalf("tools = %+v", d.Tools)
		}
		if d.Latency.FirstAudioMs == nil || *d.Latency.FirstAudioMs <= 0 || d.Latency.ResponseP50Ms == nil || d.Latency.ResponseMaxMs == nil {
			t.Fatalf("latency = %+v", d.Latency)
		}
		if d.Usage.InputTokens == 0 || d.Usage.OutputTokens == 0 {
			t.Fatalf("usage = %+v", d.Usage)
		}
	})
}

// detailCall runs one call: the agent greets, the caller asks for
// Alice, the model looks her up and answers, then ends the call with
// end_call after a goodbye.
func detailCall(t *testing.T, rig *liveRig) string {
	t.Helper()
	c, sid := rig.call(t, "+15555550123")
	greeted(t, c)
	s, err := rig.rt.WaitSession(ctxFor(t), len(rig.rt.Sessions()))
	if err != nil {
		t.Fatal(err)
	}
	rig.rt.NextResponseCallsTool("lookup_contact", `{"name":"Alice Example"}`)
	s.ForceSpeechStarted()
	s.CallerTranscript("item_caller_1", "Please look up Alice.")
	s.ForceSpeechStopped()
	waitFor(t, "the lookup's result and the answer after it", func() bool {
		r := s.Responses()
		return len(s.FunctionOutputs()) == 1 && len(r) >= 3 && r[len(r)-1].Status == "completed"
	})
	rig.rt.NextResponseCallsTool("end_call", `{"reason":"done"}`)
	s.ForceSpeechStarted()
	s.ForceSpeechStopped()
	return sid
}

// waitDetail polls the call's details until its measurements are stored
// (the stream has ended).
func waitDetail(t *testing.T, rig *liveRig, sid string) callDetail {
	t.Helper()
	var d callDetail
	waitFor(t, "the call's details with its measurements", func() bool {
		resp, body := do(t, "GET", rig.srv.URL+"/api/calls/"+sid, "Bearer "+apptest.Bearer, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("detail = %d %s", resp.StatusCode, body)
		}
		d = callDetail{}
		if err := json.Unmarshal(body, &d); err != nil {
			t.Fatal(err)
		}
		return d.EndedAt != nil && d.Latency.FirstAudioMs != nil
	})
	return d
}

// TestSecurityAlertReachesLiveViewers: a security alert (here the bearer
// lockout's) is published to /logs viewers as security.alert, so the
// dashboard's alert panel shows it to a calls:read token; the address in
// it is masked.
func TestSecurityAlertReachesLiveViewers(t *testing.T) {
	srv := apptest.New(t, apptest.Options{Env: map[string]string{"AUTH_FAILURE_LIMIT": "2", "TRUSTED_PROXIES": "127.0.0.1/32"}})
	viewer := collect(dialLogs(t, srv))
	for i := 0; i < 4; i++ {
		req, _ := http.NewRequest("GET", srv.URL+"/api/whoami", nil)
		req.Header.Set("Authorization", "Bearer wrong-token-"+fmt.Sprint(i))
		req.Header.Set("X-Forwarded-For", "198.51.100.77")
		send(t, req)
	}
	var alert wireMsg
	waitFor(t, "a security.alert event", func() bool {
		viewer.mu.Lock()
		defer viewer.mu.Unlock()
		for _, m := range viewer.msgs {
			if m.Type == "security.alert" {
				alert = m
				return true
			}
		}
		return false
	})
	if alert.Data["alert"] != "auth_lockout" || alert.Data["remoteIp"] == nil || strings.Contains(fmt.Sprint(alert.Data), "198.51.100.77") {
		t.Fatalf("alert event = %+v", alert)
	}
}

// addContact creates a contact through the API.
func addContact(t *testing.T, srv *apptest.Server, name, number string) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/api/contacts", strings.NewReader(`{"name":"`+name+`","phoneNumber":"`+number+`","aliases":[],"note":""}`))
	req.Header.Set("Authorization", "Bearer "+apptest.Bearer)
	req.Header.Set("Content-Type", "application/json")
	if status, body := send(t, req); status != http.StatusCreated {
		t.Fatalf("create contact = %d %s", status, body)
	}
}
