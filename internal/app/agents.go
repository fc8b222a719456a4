package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/voiceagent/voiceagent/internal/agents"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/egress"
	"github.com/voiceagent/voiceagent/internal/relay"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// buildAgents builds the agents service: the default agent from the
// environment, tool secrets sealed under a key derived from
// PRIVACY_HASH_KEY, tool URLs checked against APP_ENV and
// TOOL_ALLOWED_NETWORKS; and the egress client HTTP tools are called with.
func (a *App) buildAgents(version string) error {
	cfg := a.Config
	sealer, err := agents.NewSealer(cfg.PrivacyHashKey)
	if err != nil {
		return fmt.Errorf("agents: %w", err)
	}
	dial := agents.DialContactsOnly
	if cfg.AgentDialPolicy == config.DialAny {
		dial = agents.DialAny
	}
	allowHTTP := !cfg.Production()
	allowed := cfg.ToolAllowedNetworks
	a.Agents = agents.NewService(a.DB.Agents(), a.Audit, sealer, agents.Settings{
		Default: agents.Agent{
			Name: "Default (from the environment)", Instructions: cfg.AgentInstructions, Greeting: cfg.AgentGreeting,
			Voice: cfg.RealtimeVoice, Model: cfg.RealtimeModel, DialPolicy: dial,
			MaxCallDuration: cfg.MaxCallDuration, IdleTimeout: cfg.CallIdleTimeout,
		},
		Limits:        agents.Limits{MaxCallDuration: cfg.MaxCallDuration, IdleTimeout: cfg.CallIdleTimeout, AllowAnyDial: cfg.AgentDialPolicy == config.DialAny},
		CheckURL:      func(u string) error { return egress.CheckURL(u, allowHTTP, allowed) },
		ServiceNumber: cfg.TwilioPhoneNumber,
	})
	a.egress = egress.New(egress.Options{Allowed: allowed, Version: version})
	return nil
}

// agentRuntime adapts agents and egress to relay.Agents (nil without
// agents).
func (a *App) agentRuntime() relay.Agents {
	if a.Agents == nil {
		return nil
	}
	return &agentRuntime{a: a}
}

type agentRuntime struct{ a *App }

// runtimeTool is an HTTP tool as it was when the call started.
type runtimeTool struct {
	schema        *jsonschema.Schema
	url           string
	timeout       time.Duration
	includeCaller bool
}

// Profile returns the call's agent; nil (the environment's agent, exactly
// as before agents existed) for the default agent.
func (rt *agentRuntime) Profile(ctx context.Context, callSID string) (*relay.Profile, error) {
	call, err := rt.a.DB.Calls().FindCall(ctx, callSID, "")
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return nil, err
	}
	id := call.AgentID
	outbound := call.Direction == voice.DirectionOutbound
	if (id == "" || id == agents.DefaultID) && !outbound {
		return nil, nil
	}
	ag, err := rt.a.Agents.GetAgent(ctx, id)
	if err != nil {
		return nil, err
	}
	instructions := ag.Instructions
	if outbound {
		instructions = outboundInstructions(instructions, call.Context)
	}
	p := &relay.Profile{
		AgentID: ag.ID, Instructions: instructions, Greeting: ag.Greeting, Voice: ag.Voice, Model: ag.Model,
		Tools: ag.Tools, HTTPTools: map[string]relay.HTTPToolDecl{}, DialPolicy: ag.DialPolicy,
		MaxCallDuration: ag.MaxCallDuration, IdleTimeout: ag.IdleTimeout,
	}
	version := strconv.FormatInt(ag.UpdatedAt.UnixNano(), 36)
	tools := map[string]*runtimeTool{}
	// A tool the agent lists may be gone (DELETE /api/tools raced a
	// PUT /api/agents) or no longer compile. The agent still answers,
	// without that tool: an error here would hand the call to the default
	// agent, with every built-in tool and the server's dial policy, which
	// this agent may have been set up to deny.
	p.Tools = make([]string, 0, len(ag.Tools))
	for _, name := range ag.Tools {
		if agents.Builtin(name) {
			p.Tools = append(p.Tools, name)
			continue
		}
		t, err := rt.a.Agents.GetTool(ctx, name)
		if apperr.Is(err, apperr.NotFound) {
			rt.a.Log.Warn("the agent lists a tool that does not exist; the call goes on without it", "agent_id", ag.ID, "tool", name, "call_sid", callSID)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tool %s of agent %s: %w", name, ag.ID, err)
		}
		sch, err := agents.CompileParameters(t.Parameters)
		if err != nil {
			rt.a.Log.Warn("the tool's parameters do not compile; the call goes on without it", "agent_id", ag.ID, "tool", name, "call_sid", callSID, "err", err)
			continue
		}
		p.Tools = append(p.Tools, name)
		tools[name] = &runtimeTool{schema: sch, url: t.URL, timeout: time.Duration(t.TimeoutMs) * time.Millisecond, includeCaller: t.IncludeCaller}
		p.HTTPTools[name] = relay.HTTPToolDecl{Description: t.Description, Parameters: t.Parameters}
		version += "." + strconv.FormatInt(t.UpdatedAt.UnixNano(), 36)
	}
	p.Version, p.Handle = version, tools
	return p, nil
}

// outboundInstructions are the agent's instructions for a call it placed:
// the agent is told that it called, and the operator's context for this
// call only is added (the agent's own instructions stay first, so the
// context adds to them rather than replacing them).
func outboundInstructions(instructions, context string) string {
	out := instructions + "\n\nThis is an outbound call: you placed it, and the person who answers did not call you. Say who you are and why you are calling."
	if context != "" {
		out += "\nContext for this call, from the operator who placed it:\n" + context
	}
	return out
}

// toolFailed is what the model hears when an HTTP tool gives no usable
// answer; the reason is logged and audited, never told to the model.
const toolFailed = "the action could not be completed right now; tell the caller and offer something else"

// CallTool validates the arguments, sends the signed request through the
// egress guard and audits the outcome (tool, outcome, status, duration;
// never arguments, answers or the secret).
func (rt *agentRuntime) CallTool(ctx context.Context, p *relay.Profile, callSID, name, args string) (string, bool) {
	tools, _ := p.Handle.(map[string]*runtimeTool)
	t := tools[name]
	if t == nil {
		return "unknown tool", false
	}
	if args == "" {
		args = "{}"
	}
	if err := agents.ValidateArguments(t.schema, []byte(args)); err != nil {
		rt.record(callSID, p.AgentID, name, "invalid_arguments", 0, 0)
		return err.Error(), false
	}
	delivery := egress.NewDeliveryID()
	body := map[string]any{"tool": name, "arguments": json.RawMessage(args), "callSid": callSID, "agentId": p.AgentID, "deliveryId": delivery}
	if t.includeCaller {
		// The other party: the caller of an incoming call, the callee of
		// one the agent placed.
		if c, err := rt.a.DB.Calls().FindCall(ctx, callSID, ""); err == nil {
			party := c.From
			if c.Direction == voice.DirectionOutbound {
				party = c.To
			}
			if party != "" {
				body["caller"] = party
			}
		}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		rt.record(callSID, p.AgentID, name, "error", 0, 0)
		return toolFailed, false
	}
	secret, err := rt.a.Agents.Secret(ctx, name)
	if err != nil {
		rt.a.Log.Error("tool secret unavailable; the tool is not called", "tool", name, "call_sid", callSID, "err", err)
		rt.record(callSID, p.AgentID, name, "error", 0, 0)
		return toolFailed, false
	}
	res := rt.a.egress.Post(ctx, egress.Request{URL: t.url, Body: raw, Secret: secret, DeliveryID: delivery, Timeout: t.timeout})
	rt.record(callSID, p.AgentID, name, string(res.Outcome), res.Status, res.Duration)
	if res.Outcome != egress.OK {
		rt.a.Log.Warn("HTTP tool failed", "tool", name, "call_sid", callSID, "outcome", string(res.Outcome), "status", res.Status, "reason", res.Reason)
		return toolFailed, false
	}
	return string(res.Body), true
}

func (rt *agentRuntime) record(callSID, agentID, tool, outcome string, status int, d time.Duration) {
	sev := audit.Info
	if outcome != string(egress.OK) {
		sev = audit.Warning
	}
	rt.a.Metrics.HTTPToolCalls.WithLabelValues(tool, outcome).Inc()
	if d > 0 {
		rt.a.Metrics.HTTPToolDuration.WithLabelValues(tool).Observe(d.Seconds())
	}
	rt.a.Audit.Record(audit.Event{Type: audit.TypeToolCall, Severity: sev, Actor: "agent", CallSID: callSID, Detail: map[string]any{
		"tool": tool, "agentId": agentID, "outcome": outcome, "status": status, "durationMs": d.Milliseconds(),
	}})
}
