package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// Numbers of the outbound tests: reserved 555-01xx numbers of real area
// codes, which libphonenumber takes for valid numbers (its check is what
// the guard uses), in Los Angeles (415) and Washington (202).
const (
	outFrom    = "+14155550100" // TWILIO_OUTBOUND_NUMBER in these tests
	outCallee  = "+14155550123"
	outCallee2 = "+14155550124"
	outCallee3 = "+14155550125"
	outCallee4 = "+14155550126"
	outAgentNo = "+14155550177" // assigned to an agent
	outBlocked = "+14155550150" // on the stored deny list
	outDenied  = "+12025550142" // under DIAL_DENY_LIST's +1202555*
	outPremium = "+19005550100" // +1900, a default high-cost prefix
	outUK      = "+442079460123"
)

var outboundNumbers = []string{outFrom, outCallee, outCallee2, outCallee3, outCallee4, outAgentNo, outBlocked, outDenied, outPremium, outUK}

// outboundEnv is the environment of the outbound tests: a valid outbound
// number, quiet hours off unless a test sets them.
func outboundEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"TWILIO_OUTBOUND_NUMBER": outFrom,
		"OUTBOUND_QUIET_HOURS":   "off",
		"DIAL_DENY_LIST":         "+1202555*",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// apiResult is one operator API answer with its headers.
type apiResult struct {
	Status int
	Header http.Header
	Body   []byte
}

func (a apiResult) code() string {
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(a.Body, &e)
	return e.Error.Code
}

// apiDo sends an operator API request with the admin token.
func (r *rig) apiDo(ctx context.Context, t *testing.T, method, path, body string) apiResult {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apptest.Bearer)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r.bodies.observe("api", path, resp.StatusCode, b)
	return apiResult{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// placeCall posts /api/calls and checks the answer's status and code.
func (r *rig) placeCall(ctx context.Context, t *testing.T, body string, want int, wantCode string) apiResult {
	t.Helper()
	res := r.apiDo(ctx, t, "POST", "/api/calls", body)
	if res.Status != want || (wantCode != "" && res.code() != wantCode) {
		t.Fatalf("POST /api/calls %s = %d %s, want %d %s", body, res.Status, res.Body, want, wantCode)
	}
	return res
}

// outboundAudit returns the outbound_call audit rows, oldest first.
func (r *rig) outboundAudit(ctx context.Context, t *testing.T) []audit.Event {
	t.Helper()
	r.srv.Audit.Flush(ctx)
	res := r.apiDo(ctx, t, "GET", "/api/audit?type=outbound_call&limit=200", "")
	var page struct{ Events []audit.Event }
	if err := json.Unmarshal(res.Body, &page); err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(page.Events)-1; i < j; i, j = i+1, j-1 {
		page.Events[i], page.Events[j] = page.Events[j], page.Events[i]
	}
	return page.Events
}

// TestOutboundCallPlaced: POST /api/calls through the real router places
// the call through twilio-go, and the fake Twilio receives exactly the
// documented form; the answer is 202 with the call; the record is an
// outbound call placed by the token, with its agent and context; the
// attempt is audited with the number masked. On SQLite and PostgreSQL.
func TestOutboundCallPlaced(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, rigOptions{DB: db, Env: outboundEnv(nil)})
		ctx := ctxFor(t, 30*time.Second)
		res := r.placeCall(ctx, t, `{"to":"`+outCallee+`","context":"Remind Ana about her 3 pm appointment tomorrow.","machineDetection":"hangup"}`, 202, "")
		var placed struct{ CallSid, Status, To, From, AgentID, Direction string }
		if err := json.Unmarshal(res.Body, &placed); err != nil {
			t.Fatal(err)
		}
		calls := r.rest.PlacedCalls()
		if len(calls) != 1 || placed.CallSid != calls[0].SID || placed.Status != "queued" || placed.To != outCallee ||
			placed.From != outFrom || placed.AgentID != "default" || placed.Direction != "outbound" {
			t.Fatalf("answer = %s; fake calls = %+v", res.Body, calls)
		}
		want := url.Values{
			"To": {outCallee}, "From": {outFrom},
			"Url": {apptest.PublicURL + "/voice/outbound"}, "Method": {"POST"},
			"StatusCallback": {apptest.PublicURL + "/voice/status"}, "StatusCallbackMethod": {"POST"},
			"StatusCallbackEvent": {"initiated", "ringing", "answered", "completed"},
			"Timeout":             {"30"}, "MachineDetection": {"Enable"},
		}
		if got := calls[0].Form; !reflect.DeepEqual(got, want) {
			t.Fatalf("Twilio received %v\nwant %v", got, want)
		}
		if reqs := r.rest.Requests(fake.OpCreateCall); len(reqs) != 1 || reqs[0].Username != apptest.AccountSID ||
			reqs[0].Path != "/2010-04-01/Accounts/"+apptest.AccountSID+"/Calls.json" {
			t.Fatalf("create call requests = %+v", reqs)
		}

		// Without machine detection, Twilio is not asked for it.
		r.placeCall(ctx, t, `{"to":"`+outCallee2+`","machineDetection":"off"}`, 202, "")
		if got := r.rest.PlacedCalls()[1].Form; got.Has("MachineDetection") || got.Get("To") != outCallee2 {
			t.Fatalf("second call form = %v", got)
		}

		c, err := r.srv.DB.Calls().FindCall(ctx, placed.CallSid, "")
		if err != nil {
			t.Fatal(err)
		}
		if c.Direction != "outbound" || c.PlacedBy != "primary" || c.To != outCallee || c.From != outFrom ||
			c.Context != "Remind Ana about her 3 pm appointment tomorrow." || !c.Active || c.Status != "queued" || c.AgentID != "" {
			t.Fatalf("call record = %+v", c)
		}

		evs := r.outboundAudit(ctx, t)
		if len(evs) != 2 || evs[0].Detail["outcome"] != "placed" || evs[0].Actor != "primary" || evs[0].CallSID != placed.CallSid ||
			strings.Contains(evs[0].Detail["to"].(string), outCallee[2:]) {
			t.Fatalf("audit = %+v", evs)
		}
		r.assertNoLeaks(t, outboundNumbers...)
	})
}

// TestOutboundGuards: each guard refuses with its own status and code,
// places no call at Twilio, keeps no call record, and writes an audit row
// with the outcome. On SQLite and PostgreSQL.
func TestOutboundGuards(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, rigOptions{DB: db, Env: outboundEnv(nil)})
		ctx := ctxFor(t, 30*time.Second)
		res := r.apiDo(ctx, t, "POST", "/api/agents", `{"name":"Reminders","instructions":"You call people to remind them.","greeting":"Say: hello.","voice":"alloy","model":"gpt-realtime","tools":["end_call"],"dialPolicy":"none"}`)
		var agent struct{ ID string }
		if err := json.Unmarshal(res.Body, &agent); err != nil || agent.ID == "" {
			t.Fatalf("agent = %d %s", res.Status, res.Body)
		}
		if res := r.apiDo(ctx, t, "PUT", "/api/numbers/"+url.PathEscape(outAgentNo), `{"agentId":"`+agent.ID+`"}`); res.Status != 201 {
			t.Fatalf("assign = %d %s", res.Status, res.Body)
		}
		if res := r.apiDo(ctx, t, "PUT", "/api/callers/blocked/"+url.PathEscape(outBlocked), ""); res.Status != 201 {
			t.Fatalf("block = %d %s", res.Status, res.Body)
		}
		cases := []struct {
			name, body string
			status     int
			code       string
		}{
			{"not E.164", `{"to":"14155550123"}`, 400, "invalid_number"},
			{"too short", `{"to":"+1415555012"}`, 400, "invalid_number"},
			{"not a valid number", `{"to":"+15555550111"}`, 400, "invalid_number"},
			{"letters", `{"to":"+1415555O123"}`, 400, "invalid_number"},
			{"missing", `{}`, 400, "invalid_number"},
			{"the outbound number", `{"to":"` + outFrom + `"}`, 422, "own_number"},
			{"an agent's number", `{"to":"` + outAgentNo + `"}`, 422, "own_number"},
			{"deny-list prefix", `{"to":"` + outDenied + `"}`, 403, "denied_destination"},
			{"stored deny list", `{"to":"` + outBlocked + `"}`, 403, "denied_destination"},
			{"high-cost prefix", `{"to":"` + outPremium + `"}`, 403, "denied_destination"},
			{"country not allowed", `{"to":"` + outUK + `"}`, 403, "country_not_allowed"},
			{"from not a service number", `{"to":"` + outCallee + `","from":"+14155550199"}`, 400, "invalid"},
			{"unknown agent", `{"to":"` + outCallee + `","agentId":"agt_0123456789abcdef01234567"}`, 400, "invalid"},
			{"malformed agent", `{"to":"` + outCallee + `","agentId":"../default"}`, 400, "invalid"},
			{"machine detection", `{"to":"` + outCallee + `","machineDetection":"detect"}`, 400, "invalid"},
			{"context too long", `{"to":"` + outCallee + `","context":"` + strings.Repeat("a", 2001) + `"}`, 400, "invalid"},
			{"context control", `{"to":"` + outCallee + `","context":"hi\u0000there"}`, 400, "invalid"},
			{"unknown field", `{"to":"` + outCallee + `","record":true}`, 400, "invalid"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) { r.placeCall(ctx, t, tc.body, tc.status, tc.code) })
		}
		if n := len(r.rest.PlacedCalls()); n != 0 {
			t.Fatalf("refused attempts placed %d calls", n)
		}
		list := r.apiDo(ctx, t, "GET", "/api/calls", "")
		if !strings.Contains(string(list.Body), `"calls":[]`) {
			t.Fatalf("refused attempts left call records: %s", list.Body)
		}
		// Every attempt that reached the service is audited with its
		// outcome (the unknown field is refused before).
		evs := r.outboundAudit(ctx, t)
		if len(evs) != len(cases)-1 {
			t.Fatalf("audit rows = %d, want %d: %+v", len(evs), len(cases)-1, evs)
		}
		for i, ev := range evs {
			if ev.Detail["outcome"] != cases[i].code || ev.Actor != "primary" || ev.Severity != audit.Warning {
				t.Fatalf("audit row %d = %+v, want outcome %s", i, ev, cases[i].code)
			}
		}
		// From a number assigned to an agent, that agent calls.
		res = r.placeCall(ctx, t, `{"to":"`+outCallee+`","from":"`+outAgentNo+`"}`, 202, "")
		if !strings.Contains(string(res.Body), `"agentId":"`+agent.ID+`"`) || !strings.Contains(string(res.Body), `"from":"`+outAgentNo+`"`) {
			t.Fatalf("call from the agent's number = %s", res.Body)
		}
		r.assertNoLeaks(t, outboundNumbers...)
	})
}

// TestOutboundRateLimits: OUTBOUND_CALLS_PER_MINUTE, one call per
// destination per 10 minutes and OUTBOUND_CALLS_PER_DAY answer 429 with
// Retry-After. On SQLite and PostgreSQL.
func TestOutboundRateLimits(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, rigOptions{DB: db, Env: outboundEnv(map[string]string{
			"OUTBOUND_CALLS_PER_MINUTE": "3", "OUTBOUND_CALLS_PER_DAY": "4", "MAX_CONCURRENT_CALLS": "4",
		})})
		ctx := ctxFor(t, 30*time.Second)
		now := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
		r.srv.Outbound.SetClock(func() time.Time { return now })

		r.placeCall(ctx, t, `{"to":"`+outCallee+`"}`, 202, "")
		res := r.placeCall(ctx, t, `{"to":"`+outCallee+`"}`, 429, "rate_limited")
		if got := res.Header.Get("Retry-After"); got != "600" {
			t.Fatalf("per-destination Retry-After = %q, want 600", got)
		}
		r.placeCall(ctx, t, `{"to":"`+outCallee2+`"}`, 202, "")
		now = now.Add(20 * time.Second)
		r.placeCall(ctx, t, `{"to":"`+outCallee3+`"}`, 202, "")
		res = r.placeCall(ctx, t, `{"to":"`+outCallee4+`"}`, 429, "rate_limited")
		if got := res.Header.Get("Retry-After"); got != "40" {
			t.Fatalf("per-minute Retry-After = %q, want 40 (the first call of the minute leaves it then)", got)
		}
		// A minute later there is room in the minute: the fourth call of
		// the day goes, the fifth reaches the daily limit.
		now = now.Add(time.Minute)
		r.placeCall(ctx, t, `{"to":"`+outCallee4+`"}`, 202, "")
		res = r.placeCall(ctx, t, `{"to":"+14155550127"}`, 429, "rate_limited")
		if got, _ := strconv.Atoi(res.Header.Get("Retry-After")); got < 24*3600-200 || got > 24*3600 {
			t.Fatalf("per-day Retry-After = %d", got)
		}
		if n := len(r.rest.PlacedCalls()); n != 4 {
			t.Fatalf("placed %d calls, want 4", n)
		}
	})
}

// TestOutboundCapacity: a full MAX_CONCURRENT_CALLS answers 503
// at_capacity and places nothing; incoming and outbound calls share the
// slots. (Its own test: a second storetest.Engines in one test names its
// subtests "sqlite#01", and the '#' would cut the SQLite file's URI.)
func TestOutboundCapacity(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		r := newRig(t, rigOptions{DB: db, Env: outboundEnv(map[string]string{"MAX_CONCURRENT_CALLS": "1"})})
		ctx := ctxFor(t, 30*time.Second)
		r.placeCall(ctx, t, `{"to":"`+outCallee+`"}`, 202, "")
		r.placeCall(ctx, t, `{"to":"`+outCallee2+`"}`, 503, "at_capacity")
		// An incoming call finds the cap full too: one set of slots.
		a, err := r.target.Place(ctx, "+15555550111", "+15555550100")
		if err != nil || a.Decision() != "busy" {
			t.Fatalf("incoming call at the cap = %v, %v", a, err)
		}
		if n := len(r.rest.PlacedCalls()); n != 1 {
			t.Fatalf("placed %d calls, want 1", n)
		}
		// The refused attempt left no record and did not use up its
		// destination's window: once a slot frees, it goes through.
		sid := r.rest.PlacedCalls()[0].SID
		if ans, err := r.rest.SendCallStatus(ctx, sid, "completed", 0); err != nil || ans.Status >= 300 {
			t.Fatalf("status callback = %+v, %v", ans, err)
		}
		r.placeCall(ctx, t, `{"to":"`+outCallee2+`"}`, 202, "")
	})
}

// TestOutboundQuietHours: a call that would ring inside
// OUTBOUND_QUIET_HOURS in the callee's time zone is refused 422
// quiet_hours naming the earliest allowed time; the same call in the
// afternoon there goes.
func TestOutboundQuietHours(t *testing.T) {
	r := newRig(t, rigOptions{Env: outboundEnv(map[string]string{"OUTBOUND_QUIET_HOURS": "21:00-08:00"})})
	ctx := ctxFor(t, 30*time.Second)
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 22, 30, 0, 0, la) // 22:30 in Los Angeles (PST)
	r.srv.Outbound.SetClock(func() time.Time { return now })
	res := r.placeCall(ctx, t, `{"to":"`+outCallee+`"}`, 422, "quiet_hours")
	if !strings.Contains(string(res.Body), "2026-12-08T16:00:00Z") || !strings.Contains(string(res.Body), "America/Los_Angeles") {
		t.Fatalf("quiet hours answer = %s, want the earliest time 08:00 PST (16:00Z)", res.Body)
	}
	now = time.Date(2026, 12, 8, 15, 0, 0, 0, la)
	r.placeCall(ctx, t, `{"to":"`+outCallee+`"}`, 202, "")
}

// TestOutboundAPIBaseURL: with TWILIO_API_BASE_URL set, the REST call
// goes to that base (here the fake's own address, as a Twilio-compatible
// provider is reached), with the same form.
func TestOutboundAPIBaseURL(t *testing.T) {
	r := newRig(t, rigOptions{APIBase: true, Env: outboundEnv(nil)})
	ctx := ctxFor(t, 30*time.Second)
	r.placeCall(ctx, t, `{"to":"`+outCallee+`"}`, 202, "")
	reqs := r.rest.Requests(fake.OpCreateCall)
	if len(reqs) != 1 || reqs[0].Form.Get("To") != outCallee || reqs[0].Host == "api.twilio.com" {
		t.Fatalf("requests = %+v", reqs)
	}
}

// TestOutboundNotConfigured: without REST credentials, or without an
// https PUBLIC_URL for the answering webhook, a call is refused 503 and
// nothing is dialled; a malformed number is still 400 first.
func TestOutboundNotConfigured(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"no REST credentials": {"TWILIO_ACCOUNT_SID": ""},
		"no https PUBLIC_URL": {"PUBLIC_URL": "http://voice.example.test"},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, rigOptions{Env: outboundEnv(env)})
			ctx := ctxFor(t, 30*time.Second)
			r.placeCall(ctx, t, `{"to":"`+outCallee+`"}`, 503, "unavailable")
			r.placeCall(ctx, t, `{"to":"12"}`, 400, "invalid_number")
			if n := len(r.rest.PlacedCalls()); n != 0 {
				t.Fatalf("placed %d calls", n)
			}
		})
	}
}
