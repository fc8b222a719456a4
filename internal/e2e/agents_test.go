package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	dto "github.com/prometheus/client_model/go"

	"github.com/voiceagent/voiceagent/internal/fake"
)

// toolEndpoint is a business's tool endpoint: it checks the signature the
// way the README tells businesses to (written here from that text, not
// with the server's signer) and answers the order's status.
type toolEndpoint struct {
	mu       sync.Mutex
	secret   string
	bodies   [][]byte
	verified []bool
}

func (e *toolEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	e.mu.Lock()
	secret := e.secret
	e.mu.Unlock()
	ok := verifySignature(secret, r.Header.Get("X-Voiceagent-Signature"), body, time.Now())
	e.mu.Lock()
	e.bodies = append(e.bodies, body)
	e.verified = append(e.verified, ok)
	e.mu.Unlock()
	if !ok {
		http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"shipped","eta":"tomorrow"}`)
}

func (e *toolEndpoint) requests() ([][]byte, []bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([][]byte(nil), e.bodies...), append([]bool(nil), e.verified...)
}

func verifySignature(secret, header string, body []byte, now time.Time) bool {
	var ts, v1 string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	got, err := hex.DecodeString(v1)
	return err == nil && hmac.Equal(got, mac.Sum(nil))
}

// TestAgentWithHTTPTool: an agent with an HTTP tool end to end through the real router and
// relay. A number assigned to an agent is answered with that agent's
// instructions, voice, model and only its tools; the model's call of the
// HTTP tool reaches the business endpoint signed (an independent verifier
// accepts it) and its answer is the function output; arguments that do
// not match the tool's parameters never reach the endpoint; audit rows
// name tool and outcome but hold no argument, answer or secret.
func TestAgentWithHTTPTool(t *testing.T) {
	endpoint := &toolEndpoint{}
	biz := httptest.NewServer(endpoint)
	t.Cleanup(biz.Close)
	r := newRig(t, rigOptions{Env: map[string]string{"TOOL_ALLOWED_NETWORKS": "127.0.0.0/8"}})
	ctx := ctxFor(t, 30*time.Second)
	api := func(method, path, body string, want int) []byte {
		t.Helper()
		code, b, err := r.target.API(ctx, method, path, strings.NewReader(body))
		if err != nil || code != want {
			t.Fatalf("%s %s = %d %s (%v)", method, path, code, b, err)
		}
		return b
	}
	b := api("POST", "/api/tools", `{"name":"check_order","description":"Look up an order","url":"`+biz.URL+`/voice/check-order","timeoutMs":3000,
		"parameters":{"type":"object","properties":{"order":{"type":"string","pattern":"^[A-Z][0-9]+$"}},"required":["order"],"additionalProperties":false}}`, 201)
	var tool struct{ Secret string }
	if err := json.Unmarshal(b, &tool); err != nil || tool.Secret == "" {
		t.Fatalf("tool = %s", b)
	}
	endpoint.mu.Lock()
	endpoint.secret = tool.Secret
	endpoint.mu.Unlock()
	b = api("POST", "/api/agents", `{"name":"Orders","instructions":"You answer questions about orders only.","greeting":"Say: orders desk.","voice":"verse","model":"gpt-realtime-mini","tools":["end_call","check_order"],"dialPolicy":"none"}`, 201)
	var agent struct{ ID string }
	if err := json.Unmarshal(b, &agent); err != nil {
		t.Fatal(err)
	}
	const ordersNumber = "+15555550177"
	api("PUT", "/api/numbers/%2B15555550177", `{"agentId":"`+agent.ID+`"}`, 201)

	// The model calls the tool with good arguments, then with bad ones.
	r.rt.NextResponseCallsTool("check_order", `{"order":"A123"}`)
	r.rt.NextResponseCallsTool("check_order", `{"order":"drop table"}`)
	const caller = "+15555550111"
	c, s := r.streamedCall(ctx, t, caller, ordersNumber)
	if err := s.WaitFor(ctx, func() bool { return len(s.FunctionOutputs()) >= 2 }); err != nil {
		t.Fatalf("tool outputs = %+v: %v", s.FunctionOutputs(), err)
	}

	// The session carried the agent, and only its tools.
	var sess struct {
		Model        string
		Instructions string
		Audio        struct{ Output struct{ Voice string } }
		Tools        []struct{ Name string }
	}
	if err := json.Unmarshal(s.SessionUpdates()[0], &sess); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range sess.Tools {
		names = append(names, tl.Name)
	}
	if sess.Model != "gpt-realtime-mini" || sess.Audio.Output.Voice != "verse" || sess.Instructions != "You answer questions about orders only." || !slices.Equal(names, []string{"end_call", "check_order"}) {
		t.Fatalf("session.update = %s", s.SessionUpdates()[0])
	}
	if first := s.Responses()[0]; !strings.Contains(first.Instructions, "orders desk") {
		t.Fatalf("greeting instructions = %q", first.Instructions)
	}

	// The endpoint heard exactly one request, signed, with the documented
	// body; its answer went to the model as it was.
	outs := s.FunctionOutputs()
	if outs[0].Output != `{"status":"shipped","eta":"tomorrow"}` {
		t.Fatalf("first output = %q", outs[0].Output)
	}
	if strings.Contains(outs[1].Output, "shipped") || !strings.Contains(outs[1].Output, "parameters") {
		t.Fatalf("invalid arguments output = %q", outs[1].Output)
	}
	bodies, verified := endpoint.requests()
	if len(bodies) != 1 || !verified[0] {
		t.Fatalf("endpoint requests = %d, verified %v", len(bodies), verified)
	}
	var sent map[string]any
	if err := json.Unmarshal(bodies[0], &sent); err != nil {
		t.Fatal(err)
	}
	args, _ := sent["arguments"].(map[string]any)
	if sent["tool"] != "check_order" || args["order"] != "A123" || sent["callSid"] != c.CallSid() || sent["agentId"] != agent.ID ||
		!strings.HasPrefix(sent["deliveryId"].(string), "dlv_") {
		t.Fatalf("request body = %s", bodies[0])
	}
	if _, has := sent["caller"]; has {
		t.Fatal("the caller was sent without includeCaller")
	}

	// Audit: one ok row and one invalid_arguments row, nothing else in them.
	r.srv.Audit.Flush(context.Background())
	rows, err := r.srv.DB.SQL.QueryContext(ctx, `SELECT detail FROM audit_events WHERE type = 'tool_call' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			t.Fatal(err)
		}
		details = append(details, d)
	}
	rows.Close()
	if len(details) != 2 || !strings.Contains(details[0], `"outcome":"ok"`) || !strings.Contains(details[0], `"status":200`) || !strings.Contains(details[1], `"outcome":"invalid_arguments"`) {
		t.Fatalf("tool_call audit rows = %v", details)
	}
	for outcome, want := range map[string]float64{"ok": 1, "invalid_arguments": 1, "refused": 0} {
		var m dto.Metric
		if err := r.srv.Metrics.HTTPToolCalls.WithLabelValues("check_order", outcome).Write(&m); err != nil || m.GetCounter().GetValue() != want {
			t.Errorf("voiceagent_http_tool_calls_total{outcome=%q} = %v, want %v", outcome, m.GetCounter().GetValue(), want)
		}
	}
	audited := strings.Join(details, "\n")
	for _, s := range []string{"A123", "drop table", "shipped", tool.Secret} {
		if strings.Contains(audited, s) {
			t.Errorf("audit rows hold %q", s)
		}
	}
	for _, s := range []string{tool.Secret, strings.TrimPrefix(tool.Secret, "whsec_")} {
		if strings.Contains(r.logs.String(), s) {
			t.Error("the tool secret is in the log")
		}
	}
	_ = c.Stop()
}

// TestAgentHTTPToolRefusedAddress: without TOOL_ALLOWED_NETWORKS, a tool
// whose host name resolves to loopback is created (names are checked at
// connect time) but its call is refused before any connection: the
// endpoint hears nothing, the model gets the generic error, the audit row
// says refused.
func TestAgentHTTPToolRefusedAddress(t *testing.T) {
	endpoint := &toolEndpoint{}
	biz := httptest.NewServer(endpoint)
	t.Cleanup(biz.Close)
	r := newRig(t, rigOptions{})
	ctx := ctxFor(t, 30*time.Second)
	port := biz.URL[strings.LastIndex(biz.URL, ":")+1:]
	for _, step := range []struct{ method, path, body string }{
		{"POST", "/api/tools", `{"name":"internal_lookup","url":"http://localhost:` + port + `/x","parameters":{"type":"object"}}`},
		{"POST", "/api/agents", `{"name":"Internal","voice":"alloy","model":"gpt-realtime","tools":["internal_lookup"]}`},
	} {
		code, b, err := r.target.API(ctx, step.method, step.path, strings.NewReader(step.body))
		if err != nil || code != 201 {
			t.Fatalf("%s %s = %d %s (%v)", step.method, step.path, code, b, err)
		}
		if step.path == "/api/agents" {
			var agent struct{ ID string }
			_ = json.Unmarshal(b, &agent)
			if code, b, err := r.target.API(ctx, "PUT", "/api/numbers/%2B15555550176", strings.NewReader(`{"agentId":"`+agent.ID+`"}`)); err != nil || code != 201 {
				t.Fatalf("PUT number = %d %s (%v)", code, b, err)
			}
		}
	}
	r.rt.NextResponseCallsTool("internal_lookup", `{}`)
	c, s := r.streamedCall(ctx, t, "+15555550112", "+15555550176")
	if err := s.WaitFor(ctx, func() bool { return len(s.FunctionOutputs()) >= 1 }); err != nil {
		t.Fatal(err)
	}
	if out := s.FunctionOutputs()[0].Output; !strings.Contains(out, "could not be completed") {
		t.Fatalf("output = %s", out)
	}
	if bodies, _ := endpoint.requests(); len(bodies) != 0 {
		t.Fatalf("the refused address was reached %d times", len(bodies))
	}
	r.srv.Audit.Flush(context.Background())
	var detail string
	if err := r.srv.DB.SQL.QueryRowContext(ctx, `SELECT detail FROM audit_events WHERE type = 'tool_call'`).Scan(&detail); err != nil || !strings.Contains(detail, `"outcome":"refused"`) {
		t.Fatalf("audit = %s (%v)", detail, err)
	}
	_ = c.Stop()
}

// TestAgentWithVanishedToolKeepsItsOwnLimits: DELETE /api/tools checks
// that no agent lists the tool and then deletes it, not atomically, so a
// concurrent PUT /api/agents can leave an agent naming a tool that no
// longer exists (simulated here by deleting the row directly). A call to
// that agent's number must still be answered by that agent, without the
// vanished tool: not by the default agent with every built-in tool and
// the server's dial policy (which is what a failed agent lookup falls
// back to).
func TestAgentWithVanishedToolKeepsItsOwnLimits(t *testing.T) {
	r := newRig(t, rigOptions{Env: map[string]string{"TOOL_ALLOWED_NETWORKS": "127.0.0.0/8"}})
	ctx := ctxFor(t, 30*time.Second)
	api := func(method, path, body string, want int) []byte {
		t.Helper()
		code, b, err := r.target.API(ctx, method, path, strings.NewReader(body))
		if err != nil || code != want {
			t.Fatalf("%s %s = %d %s (%v)", method, path, code, b, err)
		}
		return b
	}
	api("POST", "/api/tools", `{"name":"check_order","url":"http://127.0.0.1:9/x","parameters":{"type":"object"}}`, 201)
	b := api("POST", "/api/agents", `{"name":"Orders","instructions":"Orders only.","voice":"verse","model":"gpt-realtime-mini","tools":["end_call","check_order"],"dialPolicy":"none"}`, 201)
	var agent struct{ ID string }
	if err := json.Unmarshal(b, &agent); err != nil {
		t.Fatal(err)
	}
	api("PUT", "/api/numbers/%2B15555550175", `{"agentId":"`+agent.ID+`"}`, 201)
	if _, err := r.srv.DB.SQL.ExecContext(ctx, `DELETE FROM http_tools WHERE name = 'check_order'`); err != nil {
		t.Fatal(err)
	}

	c, s := r.streamedCall(ctx, t, "+15555550113", "+15555550175")
	if err := s.WaitFor(ctx, func() bool { return len(s.SessionUpdates()) >= 1 }); err != nil {
		t.Fatal(err)
	}
	var sess struct {
		Instructions string
		Tools        []struct{ Name string }
	}
	if err := json.Unmarshal(s.SessionUpdates()[0], &sess); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range sess.Tools {
		names = append(names, tl.Name)
	}
	if sess.Instructions != "Orders only." || !slices.Equal(names, []string{"end_call"}) {
		t.Fatalf("session.update = %s, want the agent's instructions and only end_call", s.SessionUpdates()[0])
	}
	_ = c.Stop()
}

// TestErasureRefusesAnAssignedServiceNumber: a number assigned to an
// agent (PUT /api/numbers) is a service number like TWILIO_PHONE_NUMBER:
// every call to it is a call of the service, so DELETE /api/data on it
// would erase every one of them. It answers 409 as TWILIO_PHONE_NUMBER
// does, and the calls to it stay.
func TestErasureRefusesAnAssignedServiceNumber(t *testing.T) {
	r := newRig(t, rigOptions{})
	ctx := ctxFor(t, 30*time.Second)
	code, b, err := r.target.API(ctx, "PUT", "/api/numbers/%2B15555550174", strings.NewReader(`{"agentId":"default"}`))
	if err != nil || code != 201 {
		t.Fatalf("PUT number = %d %s (%v)", code, b, err)
	}
	code, b, err = r.target.API(ctx, "DELETE", "/api/data/%2B15555550174", nil)
	if err != nil || code != 409 || !strings.Contains(string(b), `"conflict"`) {
		t.Fatalf("DELETE /api/data on an assigned number = %d %s (%v), want 409", code, b, err)
	}
	// Once unassigned, it is an ordinary number again.
	if code, b, err := r.target.API(ctx, "DELETE", "/api/numbers/%2B15555550174", nil); err != nil || code != 204 {
		t.Fatalf("DELETE number = %d %s (%v)", code, b, err)
	}
	if code, b, err := r.target.API(ctx, "DELETE", "/api/data/%2B15555550174", nil); err != nil || code != 200 {
		t.Fatalf("DELETE /api/data after unassigning = %d %s (%v)", code, b, err)
	}
}

// streamedCall places a call from -> to that the server answers with a
// stream, connects its media stream and returns it with the model session
// it opened; the stream is dropped at the end of the test if still open.
func (r *rig) streamedCall(ctx context.Context, t *testing.T, from, to string) (*fake.MediaClient, *fake.RealtimeSession) {
	t.Helper()
	before := len(r.rt.Sessions())
	a, err := r.target.Place(ctx, from, to)
	if err != nil || a.Decision() != "stream" {
		t.Fatalf("place %s -> %s = %v, %v", from, to, a, err)
	}
	c, err := r.target.Connect(ctx, a, fake.MediaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !c.Closed() {
			c.Drop()
		}
	})
	s, err := r.rt.WaitSession(ctx, before+1)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
