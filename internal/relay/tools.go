package relay

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/phone"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// Tool names declared to the model.
const (
	toolLookupContact   = "lookup_contact"
	toolAddToConference = "add_to_conference"
	toolForwardCall     = "forward_call"
	toolEndCall         = "end_call"
)

// Contact is a saved contact as the agent sees it.
type Contact struct {
	Name        string
	PhoneNumber string // E.164
}

// Directory finds saved contacts (the contacts service).
type Directory interface {
	// FindContact returns the contact whose name or alias matches, or an
	// apperr.NotFound error.
	FindContact(ctx context.Context, nameOrAlias string) (Contact, error)
	// ContactByNumber returns the contact with this E.164 number, or an
	// apperr.NotFound error.
	ContactByNumber(ctx context.Context, number string) (Contact, error)
}

// Telephony acts on the caller's call through Twilio (the conference
// service): the same calls as the operator API's conference routes.
type Telephony interface {
	// AddToConference moves the call into conf_<callSID> and dials number in.
	AddToConference(ctx context.Context, callSID, number string) error
	// Forward forwards the call to number.
	Forward(ctx context.Context, callSID, number string) error
	// EndCall hangs the call up.
	EndCall(ctx context.Context, callSID string) error
	// SayAndHangup tells the caller message, then hangs up.
	SayAndHangup(ctx context.Context, callSID, message string) error
}

// DenyList says whether a number must never be dialled.
type DenyList interface {
	Blocked(ctx context.Context, number string) (bool, error)
}

// maxToolArgs bounds the arguments the model may send.
const maxToolArgs = 4 << 10

type toolArgs struct {
	Name        string `json:"name"`
	ContactName string `json:"contact_name"`
	Number      string `json:"number"`
	Reason      string `json:"reason"`
}

// toolResult is what a tool run produced.
type toolResult struct {
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
	Name    string `json:"name,omitempty"`
	Number  string `json:"number,omitempty"`

	label   string // metrics result: ok, error, timeout, unknown
	refused bool   // the agent's dial policy or the deny list did not allow it
	goodbye bool   // end the call after the agent's goodbye
	raw     string // an HTTP tool's JSON answer, given to the model as it is
}

func failed(msg string) toolResult { return toolResult{Error: msg, label: "error"} }

// refusal is a tool call the call's policy did not allow.
func refusal(msg string) toolResult { return toolResult{Error: msg, label: "error", refused: true} }

// errUserFacing carries a message safe to give the model; refused marks
// a refusal by policy rather than a failure.
type errUserFacing struct {
	msg     string
	refused bool
}

func (e errUserFacing) Error() string { return e.msg }

// startTool queues a function call, once per call_id, for the call's
// tool workers (at most Budget.ToolWorkers, started on demand), so audio
// keeps flowing while it works and a flood of calls never means a flood
// of goroutines. It runs on the model reader.
func (c *Call) startTool(it modelItem) {
	if it.CallID == "" || c.toolsSeen[it.CallID] {
		return
	}
	if len(it.CallID) > c.budget.ItemIDBytes {
		c.overBudget(limitItemID)
		return
	}
	if len(c.toolsSeen) >= c.budget.ToolCallsPerCall {
		c.overBudget(limitToolsPerCall)
		return
	}
	if c.toolsResp++; c.toolsResp > c.budget.ToolCallsPerResponse {
		c.overBudget(limitToolsPerResponse)
		return
	}
	c.toolsSeen[it.CallID] = true
	it.Name = clip(it.Name, maxToolName)
	c.publish(events.ToolCall, map[string]any{"name": it.Name, "arguments": summarise(it.Arguments), "argumentBytes": len(it.Arguments)})
	select {
	case c.toolQ <- it: // never full: it holds ToolCallsPerCall
	default:
		c.overBudget(limitToolsPerCall)
		return
	}
	if c.toolWorkers < c.budget.ToolWorkers {
		c.toolWorkers++
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.contain("tool_worker", c.toolWorker)
		}()
	}
}

// toolWorker runs queued function calls until the call ends.
func (c *Call) toolWorker() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case it := <-c.toolQ:
			c.runTool(it)
		}
	}
}

// maxToolName bounds a tool name as logged and published.
const maxToolName = 64

// maxToolSummary bounds the tool arguments live viewers see.
const maxToolSummary = 200

// summarise is what live viewers see of tool arguments: the start,
// masked, never the full text.
func summarise(args string) string {
	if len(args) <= maxToolSummary {
		return redact.Text(cleanText(args))
	}
	return redact.Text(cleanText(args[:maxToolSummary])) + "…"
}

func (c *Call) runTool(it modelItem) {
	ctx, cancel := context.WithTimeout(c.ctx, c.r.cfg.ToolTimeout)
	start := time.Now()
	res := c.execTool(ctx, it.Name, it.Arguments)
	if ctx.Err() == context.DeadlineExceeded && c.ctx.Err() == nil {
		res = toolResult{Error: "the action took too long and was abandoned", label: "timeout"}
	}
	cancel()
	end := time.Now()
	c.stats.tool(it.Name, res, end.Sub(start), end)
	name := it.Name
	if res.label == "unknown" {
		name = "unknown"
	}
	c.r.m.ToolCalls.WithLabelValues(name, res.label).Inc()
	c.publish(events.ToolResult, map[string]any{"name": it.Name, "ok": res.OK, "result": redact.Text(res.Message + res.Error)})
	if c.ctx.Err() != nil {
		return
	}
	out, _ := json.Marshal(res)
	if res.raw != "" {
		out = []byte(res.raw)
	}
	c.model.sendBytes(c.ctx, functionOutput(it.CallID, string(out)))
	if res.goodbye {
		c.goodbye(endAgent, "Say a short, friendly goodbye to the caller now.")
		return
	}
	c.requestResponse("", false)
}

// execTool runs one tool. Unknown names and bad arguments get an error
// output, never silence.
func (c *Call) execTool(ctx context.Context, name, rawArgs string) toolResult {
	var a toolArgs
	if len(rawArgs) > maxToolArgs {
		return failed("the arguments are too long")
	}
	if !c.agent.allows(name) {
		res := failed("unknown tool " + strings.ToValidUTF8(truncate(name, 64), ""))
		res.label = "unknown"
		return res
	}
	if c.agent != nil && c.r.Agents != nil {
		if _, ok := c.agent.HTTPTools[name]; ok {
			return c.runHTTPTool(ctx, name, rawArgs)
		}
	}
	if strings.TrimSpace(rawArgs) != "" {
		if err := json.Unmarshal([]byte(rawArgs), &a); err != nil {
			return failed("the arguments are not valid JSON")
		}
	}
	switch name {
	case toolLookupContact:
		return c.lookupContact(ctx, a.Name)
	case toolAddToConference, toolForwardCall:
		if c.dialPolicy() == "none" {
			return refusal("this agent does not transfer calls")
		}
		if name == toolAddToConference {
			return c.transfer(ctx, "conference", a)
		}
		return c.transfer(ctx, "forward", a)
	case toolEndCall:
		c.log.Info("the agent ends the call", "reason", redact.Text(a.Reason))
		return toolResult{OK: true, Message: "Say goodbye; the call ends after it.", label: "ok", goodbye: true}
	}
	res := failed("unknown tool " + strings.ToValidUTF8(truncate(name, 64), ""))
	res.label = "unknown"
	return res
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// lookupContact answers with the contact's name and a masked number: the
// agent never needs the full number (transfers take the contact's name),
// so it cannot read one out.
func (c *Call) lookupContact(ctx context.Context, name string) toolResult {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return failed("give the contact's name (1 to 100 characters)")
	}
	if c.r.Directory == nil {
		return failed("the contact list is not available")
	}
	ct, err := c.r.Directory.FindContact(ctx, name)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return toolResult{OK: false, Error: "no contact with that name", label: "ok"}
	case apperr.Is(err, apperr.Conflict):
		return toolResult{OK: false, Error: "several contacts match that name; ask for the full name", label: "ok"}
	}
	if err != nil {
		c.warn("contact lookup failed", "err", err)
		return failed("the contact list is not available right now")
	}
	return toolResult{OK: true, Name: ct.Name, Number: redact.Phone(ct.PhoneNumber), Message: "Contact found.", label: "ok"}
}

// transfer connects the caller with a contact or number, through a
// conference or by forwarding.
func (c *Call) transfer(ctx context.Context, kind string, a toolArgs) toolResult {
	number, display, err := c.resolveTarget(ctx, a)
	if err != nil {
		var uf errUserFacing
		if errors.As(err, &uf) {
			if uf.refused {
				return refusal(uf.msg)
			}
			return failed(uf.msg)
		}
		c.warn("resolving the transfer target failed", "err", err)
		return failed("the transfer is not possible right now")
	}
	tel := c.r.Telephony
	if tel == nil {
		return failed("transfers are not configured")
	}
	// One transfer per call: Twilio ends the stream after the first, and
	// every further one would dial another leg.
	if c.transfers.Add(1) > int32(c.budget.TransfersPerCall) {
		c.transfers.Add(-1)
		c.r.m.BudgetExceeded.WithLabelValues(limitTransfers).Inc()
		return refusal("the call has already been transferred; no further transfer is possible")
	}
	if kind == "conference" {
		err = tel.AddToConference(ctx, c.callSID, number)
	} else {
		err = tel.Forward(ctx, c.callSID, number)
	}
	// The telephony service audits the action itself (actor "agent").
	if err != nil {
		c.transfers.Add(-1) // a failed transfer may be tried again
		if ctx.Err() != nil {
			return failed("the transfer took too long")
		}
		c.warn("transfer failed", "kind", kind, "err", err)
		if apperr.Is(err, apperr.Forbidden) {
			return refusal("that number cannot be dialled")
		}
		return failed("the transfer failed")
	}
	c.transferred.Store(true)
	c.r.publish(events.Transfer, c.callSID, map[string]any{"kind": kind, "target": display})
	msg := "Connecting the caller with " + display + "."
	if kind == "forward" {
		msg = "Forwarding the call to " + display + "."
	}
	return toolResult{OK: true, Message: msg, label: "ok"}
}

// resolveTarget turns tool arguments into an E.164 number the dial policy
// and the deny list allow, and a name safe to say and log.
func (c *Call) resolveTarget(ctx context.Context, a toolArgs) (number, display string, err error) {
	dir := c.r.Directory
	switch {
	case strings.TrimSpace(a.ContactName) != "":
		if dir == nil {
			return "", "", errUserFacing{msg: "the contact list is not available"}
		}
		ct, err := dir.FindContact(ctx, strings.TrimSpace(truncate(a.ContactName, 100)))
		switch {
		case apperr.Is(err, apperr.NotFound):
			return "", "", errUserFacing{msg: "no contact with that name"}
		case apperr.Is(err, apperr.Conflict):
			return "", "", errUserFacing{msg: "several contacts match that name; ask for the full name"}
		}
		if err != nil {
			return "", "", err
		}
		number, display = ct.PhoneNumber, ct.Name
	case strings.TrimSpace(a.Number) != "":
		// Strict E.164 from the model: no lenient normalisation, which
		// turned "900-555-0100" into +9005550100.
		n := strings.TrimSpace(truncate(a.Number, 32))
		if !phone.Valid(n) {
			return "", "", errUserFacing{msg: "give the number in E.164 form: + and country code, digits only, such as +14155550123"}
		}
		number, display = n, redact.Phone(n)
		if c.dialPolicy() != config.DialAny {
			if dir == nil {
				return "", "", errUserFacing{msg: "only saved contacts can be dialled", refused: true}
			}
			ct, err := dir.ContactByNumber(ctx, n)
			if apperr.Is(err, apperr.NotFound) {
				return "", "", errUserFacing{msg: "only saved contacts can be dialled", refused: true}
			}
			if err != nil {
				return "", "", err
			}
			display = ct.Name
		}
	default:
		return "", "", errUserFacing{msg: "give a contact_name or a number"}
	}
	if c.r.DenyList != nil {
		blocked, err := c.r.DenyList.Blocked(ctx, number)
		if err != nil {
			return "", "", err // fail closed
		}
		if blocked {
			c.r.audit(audit.Event{Type: audit.TypeConferenceAction, Severity: audit.Warning, Actor: "agent", CallSID: c.callSID,
				Detail: map[string]any{"action": "dial_refused", "target": redact.Phone(number), "reason": "deny_list"}})
			return "", "", errUserFacing{msg: "that number cannot be dialled", refused: true}
		}
	}
	return number, display, nil
}
