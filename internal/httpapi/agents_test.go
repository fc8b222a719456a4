package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/voiceagent/voiceagent/internal/app"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

const checkOrderTool = `{"name":"check_order","description":"Look up an order by its number","parameters":{"type":"object","properties":{"order":{"type":"string"}},"required":["order"]},"url":"https://api.example.com/voice/check-order","timeoutMs":5000}`

// newAgentsAPI is the wired server with its log lines kept.
func newAgentsAPI(t *testing.T, env map[string]string) (*opAPI, *apptest.LogBuffer) {
	t.Helper()
	tw := fake.NewTwilioREST(apptest.AccountSID, apptest.AccountSID, apptest.AuthToken)
	t.Cleanup(tw.Close)
	logs := &apptest.LogBuffer{}
	e := map[string]string{"TWILIO_OUTBOUND_NUMBER": outboundNumber, "LOG_LEVEL": "debug"}
	for k, v := range env {
		e[k] = v
	}
	srv := apptest.New(t, apptest.Options{DB: storetest.SQLite(t), Env: e, Logs: logs, App: app.Options{TwilioHTTPClient: tw.HTTPClient()}})
	return &opAPI{t: t, srv: srv, tw: tw}, logs
}

// TestAgentsAPI walks the agents, tools and numbers API through the
// router: validation answers, the default agent readonly, the 409s, the
// secret shown once and found nowhere else (answers, logs, audit rows).
func TestAgentsAPI(t *testing.T) {
	a, logs := newAgentsAPI(t, nil)

	resp, body := a.call("POST", "/api/tools", checkOrderTool, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create tool = %d %s", resp.StatusCode, body)
	}
	var created struct{ Secret string }
	if err := json.Unmarshal(body, &created); err != nil || !strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("create tool body = %s", body)
	}
	secrets := []string{created.Secret, strings.TrimPrefix(created.Secret, "whsec_")}

	for name, bad := range map[string]string{
		"unknown field":    `{"name":"t2","parameters":{"type":"object"},"url":"https://api.example.com/x","secretive":true}`,
		"built-in name":    `{"name":"end_call","parameters":{"type":"object"},"url":"https://api.example.com/x"}`,
		"schema not obj":   `{"name":"t2","parameters":{"type":"array"},"url":"https://api.example.com/x"}`,
		"invalid schema":   `{"name":"t2","parameters":{"type":"object","minProperties":"x"},"url":"https://api.example.com/x"}`,
		"metadata literal": `{"name":"t2","parameters":{"type":"object"},"url":"https://169.254.169.254/latest/meta-data"}`,
		"loopback literal": `{"name":"t2","parameters":{"type":"object"},"url":"https://127.0.0.1/x"}`,
		"mapped literal":   `{"name":"t2","parameters":{"type":"object"},"url":"https://[::ffff:10.0.0.1]/x"}`,
		"timeout":          `{"name":"t2","parameters":{"type":"object"},"url":"https://api.example.com/x","timeoutMs":20000}`,
		"secret given":     `{"name":"t2","parameters":{"type":"object"},"url":"https://api.example.com/x","secret":"whsec_mine"}`,
		"ftp":              `{"name":"t2","parameters":{"type":"object"},"url":"ftp://api.example.com/x"}`,
	} {
		if resp, body := a.call("POST", "/api/tools", bad, nil); resp.StatusCode != 400 {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	if resp, body := a.call("POST", "/api/tools", checkOrderTool, nil); resp.StatusCode != 409 {
		t.Fatalf("duplicate tool = %d %s", resp.StatusCode, body)
	}

	// Agents.
	agentBody := `{"name":"Front desk","instructions":"Answer order questions.","greeting":"Hello","voice":"verse","model":"gpt-realtime","language":"en","tools":["lookup_contact","check_order"],"dialPolicy":"contacts-only","maxCallDuration":"20m","idleTimeout":"1m"}`
	resp, body = a.call("POST", "/api/agents", agentBody, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create agent = %d %s", resp.StatusCode, body)
	}
	var agent struct {
		ID              string
		Tools           []string
		MaxCallDuration string
	}
	if err := json.Unmarshal(body, &agent); err != nil || !strings.HasPrefix(agent.ID, "agt_") || len(agent.Tools) != 2 || agent.MaxCallDuration != "20m0s" {
		t.Fatalf("agent body = %s", body)
	}
	for name, bad := range map[string]string{
		"unknown tool":       strings.Replace(agentBody, `"check_order"`, `"open_the_vault"`, 1),
		"unknown field":      strings.Replace(agentBody, `"name"`, `"temperature":1,"name"`, 1),
		"duration too long":  strings.Replace(agentBody, `"20m"`, `"2h"`, 1),
		"not a duration":     strings.Replace(agentBody, `"20m"`, `"soon"`, 1),
		"voice with spaces":  strings.Replace(agentBody, `"verse"`, `"my voice"`, 1),
		"dial any":           strings.Replace(agentBody, `"contacts-only"`, `"any"`, 1),
		"id given":           strings.Replace(agentBody, `"name"`, `"id":"agt_000000000000000000000000","name"`, 1),
		"duplicate key":      strings.Replace(agentBody, `"name":"Front desk"`, `"name":"Front desk","name":"Other"`, 1),
		"case-different key": strings.Replace(agentBody, `"name"`, `"NAME"`, 1),
	} {
		resp, body := a.call("POST", "/api/agents", bad, nil)
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
		if name == "unknown tool" && !strings.Contains(string(body), "open_the_vault") {
			t.Errorf("unknown tool not named: %s", body)
		}
	}
	resp, body = a.call("GET", "/api/agents", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"id":"default"`) || !strings.Contains(string(body), agent.ID) {
		t.Fatalf("list agents = %d %s", resp.StatusCode, body)
	}
	if resp, body := a.call("GET", "/api/agents/default", "", nil); resp.StatusCode != 200 || !strings.Contains(string(body), `"lookup_contact"`) {
		t.Fatalf("get default = %d %s", resp.StatusCode, body)
	}
	if resp, _ := a.call("PUT", "/api/agents/default", agentBody, nil); resp.StatusCode != 409 {
		t.Fatalf("PUT default = %d", resp.StatusCode)
	}
	if resp, _ := a.call("DELETE", "/api/agents/default", "", nil); resp.StatusCode != 409 {
		t.Fatalf("DELETE default = %d", resp.StatusCode)
	}
	updated := strings.Replace(agentBody, "Front desk", "Front desk (nights)", 1)
	if resp, body := a.call("PUT", "/api/agents/"+agent.ID, updated, nil); resp.StatusCode != 200 || !strings.Contains(string(body), "nights") {
		t.Fatalf("PUT agent = %d %s", resp.StatusCode, body)
	}

	// Numbers: 201 new, 200 replaced; the agent in use cannot go.
	if resp, body := a.call("PUT", "/api/numbers/%2B14155550123", `{"agentId":"`+agent.ID+`"}`, nil); resp.StatusCode != 201 {
		t.Fatalf("PUT number = %d %s", resp.StatusCode, body)
	}
	if resp, body := a.call("PUT", "/api/numbers/%2B14155550123", `{"agentId":"`+agent.ID+`"}`, nil); resp.StatusCode != 200 {
		t.Fatalf("PUT number again = %d %s", resp.StatusCode, body)
	}
	if resp, _ := a.call("PUT", "/api/numbers/%2B14155550124", `{"agentId":"agt_000000000000000000000000"}`, nil); resp.StatusCode != 400 {
		t.Fatalf("PUT number to a missing agent = %d", resp.StatusCode)
	}
	if resp, _ := a.call("PUT", "/api/numbers/not-a-number", `{"agentId":"default"}`, nil); resp.StatusCode != 400 {
		t.Fatalf("PUT bad number = %d", resp.StatusCode)
	}
	if resp, body := a.call("GET", "/api/numbers", "", nil); resp.StatusCode != 200 || !strings.Contains(string(body), `"+14155550123"`) {
		t.Fatalf("GET numbers = %d %s", resp.StatusCode, body)
	}
	if resp, _ := a.call("DELETE", "/api/agents/"+agent.ID, "", nil); resp.StatusCode != 409 {
		t.Fatalf("DELETE agent in use = %d", resp.StatusCode)
	}
	if resp, _ := a.call("DELETE", "/api/tools/check_order", "", nil); resp.StatusCode != 409 {
		t.Fatalf("DELETE tool in use = %d", resp.StatusCode)
	}

	// Reading never shows the secret; rotation shows the new one once.
	for _, path := range []string{"/api/tools", "/api/tools/check_order", "/api/agents", "/api/agents/" + agent.ID} {
		resp, body := a.call("GET", path, "", nil)
		if resp.StatusCode != 200 || strings.Contains(string(body), "secret") || strings.Contains(string(body), "whsec_") {
			t.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
		}
	}
	resp, body = a.call("POST", "/api/tools/check_order/rotate-secret", "", nil)
	var rotated struct{ Secret string }
	if resp.StatusCode != 200 || json.Unmarshal(body, &rotated) != nil || rotated.Secret == created.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") {
		t.Fatalf("rotate = %d %s", resp.StatusCode, body)
	}
	secrets = append(secrets, rotated.Secret, strings.TrimPrefix(rotated.Secret, "whsec_"))
	if resp, _ := a.call("POST", "/api/tools/no_such_tool/rotate-secret", "", nil); resp.StatusCode != 404 {
		t.Fatalf("rotate missing = %d", resp.StatusCode)
	}
	if resp, body := a.call("PUT", "/api/tools/check_order", strings.Replace(checkOrderTool, "5000", "2000", 1), nil); resp.StatusCode != 200 || !strings.Contains(string(body), `"timeoutMs":2000`) {
		t.Fatalf("PUT tool = %d %s", resp.StatusCode, body)
	}

	// Clean up in the order the rules allow.
	for _, step := range []struct{ method, path string }{
		{"DELETE", "/api/numbers/%2B14155550123"}, {"DELETE", "/api/agents/" + agent.ID}, {"DELETE", "/api/tools/check_order"},
	} {
		if resp, body := a.call(step.method, step.path, "", nil); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("%s %s = %d %s", step.method, step.path, resp.StatusCode, body)
		}
	}

	// The secrets are nowhere but in the two answers that gave them.
	a.srv.Audit.Flush(context.Background())
	var auditText strings.Builder
	rows, err := a.srv.DB.SQL.QueryContext(context.Background(), `SELECT type, COALESCE(detail, '') FROM audit_events`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var typ, detail string
		if err := rows.Scan(&typ, &detail); err != nil {
			t.Fatal(err)
		}
		auditText.WriteString(detail + "\n")
		if typ == "agent_change" {
			n++
		}
	}
	rows.Close()
	if n < 8 {
		t.Fatalf("agent_change audit rows = %d", n)
	}
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Fatal("a tool secret is in the log")
		}
		if strings.Contains(auditText.String(), s) {
			t.Fatal("a tool secret is in the audit log")
		}
	}
}

// TestToolURLRules: http only in development; production refuses it.
func TestToolURLRules(t *testing.T) {
	a, _ := newAgentsAPI(t, nil)
	httpTool := strings.Replace(checkOrderTool, "https://", "http://", 1)
	if resp, body := a.call("POST", "/api/tools", httpTool, nil); resp.StatusCode != 201 {
		t.Fatalf("http tool in development = %d %s", resp.StatusCode, body)
	}
	// A loopback URL is accepted once TOOL_ALLOWED_NETWORKS allows it.
	b, _ := newAgentsAPI(t, map[string]string{"TOOL_ALLOWED_NETWORKS": "127.0.0.0/8"})
	local := strings.Replace(checkOrderTool, "https://api.example.com", "http://127.0.0.1:8080", 1)
	if resp, body := b.call("POST", "/api/tools", local, nil); resp.StatusCode != 201 {
		t.Fatalf("allowed loopback = %d %s", resp.StatusCode, body)
	}
}

// TestNumbersAreServiceNumbers: a number assigned to an agent is a service
// number (its calls are accepted and the call record keeps the agent id);
// other numbers than TWILIO_PHONE_NUMBER are still refused; an assignment
// removed stops at once.
func TestNumbersAreServiceNumbers(t *testing.T) {
	a, _ := newAgentsAPI(t, map[string]string{"TWILIO_PHONE_NUMBER": "+15555550199", "REALTIME_URL": "ws://127.0.0.1:1/v1/realtime"})
	resp, body := a.call("POST", "/api/agents", `{"name":"Sales","voice":"verse","model":"gpt-realtime","tools":["end_call"]}`, nil)
	var agent struct{ ID string }
	if resp.StatusCode != 201 || json.Unmarshal(body, &agent) != nil {
		t.Fatalf("create agent = %d %s", resp.StatusCode, body)
	}
	if resp, body := a.call("PUT", "/api/numbers/%2B15555550198", `{"agentId":"`+agent.ID+`"}`, nil); resp.StatusCode != 201 {
		t.Fatalf("PUT number = %d %s", resp.StatusCode, body)
	}
	call := func(n int, to string) (voice.Call, string) {
		t.Helper()
		p := incomingParams(n, caller)
		p.Set("To", to)
		if st, b := postTwilio(t, a.srv, "/voice/incoming", p, nil); st != 200 {
			t.Fatalf("incoming = %d %s", st, b)
		}
		sid := p.Get("CallSid")
		id, err := a.srv.DB.Agents().CallAgent(context.Background(), sid)
		if err != nil {
			t.Fatal(err)
		}
		return callRecord(t, a.srv, sid), id
	}
	if c, id := call(1, "+15555550198"); c.Decision != voice.Accept || id != agent.ID {
		t.Fatalf("assigned number: %s %s, agent %q", c.Decision, c.Reason, id)
	}
	if c, id := call(2, "+15555550199"); c.Decision != voice.Accept || id != "" {
		t.Fatalf("TWILIO_PHONE_NUMBER: %s, agent %q", c.Decision, id)
	}
	if c, _ := call(3, "+15555550197"); c.Decision != voice.Reject || c.Reason != voice.ReasonWrongNumber {
		t.Fatalf("unassigned number: %s %s", c.Decision, c.Reason)
	}
	if resp, _ := a.call("DELETE", "/api/numbers/%2B15555550198", "", nil); resp.StatusCode != 204 {
		t.Fatalf("DELETE number = %d", resp.StatusCode)
	}
	if c, _ := call(4, "+15555550198"); c.Decision != voice.Reject {
		t.Fatalf("after unassigning: %s", c.Decision)
	}
}

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
