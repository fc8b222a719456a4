package relay

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/fake"
)

// fakeAgents answers every call with one agent holding end_call,
// forward_call and the HTTP tool check_order, with dial policy none.
type fakeAgents struct {
	calls atomic.Int32
	idle  time.Duration
}

func (f *fakeAgents) Profile(context.Context, string) (*Profile, error) {
	return &Profile{
		AgentID: "agt_000000000000000000000001", Version: "1", Instructions: "Orders only.", Greeting: "Say: orders.",
		Voice: "verse", Model: "gpt-realtime-mini", Tools: []string{"end_call", "forward_call", "check_order"},
		HTTPTools:  map[string]HTTPToolDecl{"check_order": {Description: "Order status", Parameters: json.RawMessage(`{"type":"object"}`)}},
		DialPolicy: "none", IdleTimeout: f.idle,
	}, nil
}

func (f *fakeAgents) CallTool(context.Context, *Profile, string, string, string) (string, bool) {
	f.calls.Add(1)
	return `{"status":"shipped"}`, true
}

func agentHarness(t *testing.T) (*harness, *fakeAgents) {
	h := newHarness(t, harnessOpts{})
	fa := &fakeAgents{}
	h.relay.Agents = fa
	return h, fa
}

// TestAgentToolsOnly: a tool the agent does not list is refused even when
// built in; dial policy none refuses transfers; the HTTP tool's answer is
// the output as it is.
func TestAgentToolsOnly(t *testing.T) {
	h, fa := agentHarness(t)
	h.dir.add("Alice Example", "+14155550100")
	h.rt.NextResponseCallsTool("lookup_contact", `{"name":"alice example"}`)
	h.rt.NextResponseCallsTool("forward_call", `{"contact_name":"Alice Example"}`)
	h.rt.NextResponseCallsTool("check_order", `{"order":"A1"}`)
	h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "three tool outputs", s.WaitFor, func() bool { return len(s.FunctionOutputs()) == 3 })
	outs := s.FunctionOutputs()
	if !strings.Contains(outs[0].Output, "unknown tool") {
		t.Fatalf("unlisted built-in tool = %s", outs[0].Output)
	}
	if !strings.Contains(outs[1].Output, "does not transfer") {
		t.Fatalf("transfer with dial policy none = %s", outs[1].Output)
	}
	if outs[2].Output != `{"status":"shipped"}` || fa.calls.Load() != 1 {
		t.Fatalf("HTTP tool output = %s (%d calls)", outs[2].Output, fa.calls.Load())
	}
	if added, forwards, _, _ := h.tel.snapshot(); len(added)+len(forwards) != 0 {
		t.Fatalf("something was dialled: %v %v", added, forwards)
	}
	if first := s.Responses()[0]; !strings.Contains(first.Instructions, "Orders only.") || !strings.Contains(first.Instructions, "Say: orders.") {
		t.Fatalf("greeting instructions = %q", first.Instructions)
	}
	var sess struct {
		Model, Instructions string
		Tools               []struct{ Name string }
	}
	if err := json.Unmarshal(s.SessionUpdates()[0], &sess); err != nil || sess.Model != "gpt-realtime-mini" || len(sess.Tools) != 3 || sess.Tools[2].Name != "check_order" {
		t.Fatalf("session.update = %s", s.SessionUpdates()[0])
	}
}

// TestAgentHTTPToolLimit: HTTP tools count against the call's tool budget:
// the 21st call of one call never reaches the tool and ends the call
// (budget limit tool_calls_per_call).
func TestAgentHTTPToolLimit(t *testing.T) {
	h, fa := agentHarness(t)
	limit := DefaultBudget().ToolCallsPerCall
	for range limit + 1 {
		h.rt.NextResponseCallsTool("check_order", `{}`)
	}
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "every allowed tool output", s.WaitFor, func() bool { return len(s.FunctionOutputs()) == limit })
	h.checkBudgetEnd(c.CallSid(), limitToolsPerCall)
	if n := fa.calls.Load(); n != int32(limit) {
		t.Fatalf("tool reached %d times, want %d", n, limit)
	}
}

// TestAgentIdleTimeout: the agent's shorter idle limit ends its call (the
// server's CALL_IDLE_TIMEOUT is the harness's 2 minutes).
func TestAgentIdleTimeout(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.relay.Agents = &fakeAgents{idle: 300 * time.Millisecond}
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "goodbye answer", s.WaitFor, func() bool { return len(s.Responses()) == 2 })
	waitFor(t, "goodbye audio", c.WaitFor, func() bool { return len(c.MarksReceived()) == 10 })
	_ = c.SendSilence(60)
	waitFor(t, "stream closed", c.WaitFor, c.Closed)
	waitTrue(t, "end recorded", func() bool { why, _ := h.calls.endReason(c.CallSid()); return why == string(endIdle) })
}
