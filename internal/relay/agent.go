package relay

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/voiceagent/voiceagent/internal/config"
)

// Profile is the agent that answers one call, fixed when the
// call's stream starts: later changes to the agent apply to the next call.
// Each call gets its own Profile (it counts the call's HTTP tool calls).
type Profile struct {
	AgentID      string
	Version      string // changes whenever the agent or one of its tools does
	Instructions string
	Greeting     string
	Voice        string
	Model        string
	// Tools are the only tools declared to the model and run for it:
	// built-in names and names of HTTP tools (in HTTPTools).
	Tools      []string
	HTTPTools  map[string]HTTPToolDecl
	DialPolicy string // none, contacts-only, any
	// MaxCallDuration and IdleTimeout shorten the server's limits for
	// this agent's calls (zero or longer: the server's).
	MaxCallDuration time.Duration
	IdleTimeout     time.Duration

	// Handle is the Agents implementation's own state (compiled schemas,
	// URLs): the relay never reads it.
	Handle any
}

// HTTPToolDecl is an HTTP tool as the model sees it.
type HTTPToolDecl struct {
	Description string
	Parameters  json.RawMessage
}

// Agents resolves the agent of a call and runs its HTTP tools
// (internal/app wires internal/agents and internal/egress behind it).
type Agents interface {
	// Profile returns the agent that answers callSID, as it is now.
	Profile(ctx context.Context, callSID string) (*Profile, error)
	// CallTool runs one HTTP tool of p: the arguments are validated
	// against its parameters first; output is what the model is given
	// (the endpoint's JSON answer, or a short error text when ok is false).
	CallTool(ctx context.Context, p *Profile, callSID, name, args string) (output string, ok bool)
}

// profileFor resolves the agent of a call; nil keeps the environment's
// agent (no Agents dependency, or the lookup failed).
func (r *Relay) profileFor(ctx context.Context, callSID string) *Profile {
	if r.Agents == nil || callSID == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	p, err := r.Agents.Profile(ctx, callSID)
	if err != nil {
		r.log.Warn("the call's agent could not be read; the default agent answers", "call_sid", callSID, "err", err)
		return nil
	}
	return p
}

// sameAgent reports whether a pre-warmed session configured for a fits a
// call answered by b.
func sameAgent(a, b *Profile) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.AgentID == b.AgentID && a.Version == b.Version
}

// allows reports whether the call's agent has the tool.
func (p *Profile) allows(name string) bool { return p == nil || slices.Contains(p.Tools, name) }

// dialPolicy is the call's dial policy.
func (c *Call) dialPolicy() string {
	if c.agent != nil && c.agent.DialPolicy != "" {
		return c.agent.DialPolicy
	}
	return c.r.cfg.AgentDialPolicy
}

// limits are the call's duration and idle limits: the server's, shortened
// by the agent's.
func (c *Call) limits() (maxDuration, idleTimeout time.Duration) {
	maxDuration, idleTimeout = c.r.cfg.MaxCallDuration, c.r.cfg.CallIdleTimeout
	if c.agent != nil {
		if d := c.agent.MaxCallDuration; d > 0 && d < maxDuration {
			maxDuration = d
		}
		if d := c.agent.IdleTimeout; d > 0 && d < idleTimeout {
			idleTimeout = d
		}
	}
	return maxDuration, idleTimeout
}

// instructions and greetingPrompt of the call's agent.
func (c *Call) instructions() string {
	if c.agent != nil {
		return c.agent.Instructions
	}
	return c.r.cfg.AgentInstructions
}

func (c *Call) greetingPrompt() string {
	if c.agent == nil {
		return c.r.cfg.GreetingPrompt()
	}
	cc := config.Config{TranscriptionNotice: c.r.cfg.TranscriptionNotice, AgentGreeting: c.agent.Greeting}
	return cc.GreetingPrompt()
}

// sessionFor is the session.update for a profile (nil: the environment).
func (r *Relay) sessionFor(p *Profile, beta bool) []byte {
	model, voice, instr, tools := r.cfg.RealtimeModel, r.cfg.RealtimeVoice, r.cfg.AgentInstructions, toolDecls()
	if p != nil {
		model, voice, instr, tools = p.Model, p.Voice, p.Instructions, p.decls()
	}
	if beta {
		return sessionUpdateBetaTools(voice, instr, tools)
	}
	return sessionUpdateTools(model, voice, instr, tools)
}

// decls lists the profile's tools for the model: its built-in tools in
// their usual order, then its HTTP tools in the order it lists them.
func (p *Profile) decls() []toolDecl {
	out := []toolDecl{}
	for _, d := range toolDecls() {
		if slices.Contains(p.Tools, d.Name) {
			out = append(out, d)
		}
	}
	for _, name := range p.Tools {
		h, ok := p.HTTPTools[name]
		if !ok {
			continue
		}
		var params map[string]any
		if err := json.Unmarshal(h.Parameters, &params); err != nil {
			continue
		}
		out = append(out, toolDecl{Type: "function", Name: name, Description: h.Description, Parameters: params})
	}
	return out
}

// runHTTPTool runs one of the agent's HTTP tools. Its limits are the
// call's budget for every tool (budget.go): at most ToolCallsPerCall (20)
// per call, ToolCallsPerResponse per response, and ToolWorkers (2) at
// once; a model that asks for more ends its call.
func (c *Call) runHTTPTool(ctx context.Context, name, args string) toolResult {
	out, ok := c.r.Agents.CallTool(ctx, c.agent, c.callSID, name, args)
	if !ok {
		return failed(out)
	}
	return toolResult{OK: true, raw: out, label: "ok"}
}
