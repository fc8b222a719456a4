package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/redact"
	"github.com/voiceagent/voiceagent/internal/sim"
)

// outboundContext is what the scenario asks the agent to say.
const outboundContext = "Remind Ana about her 3 pm appointment tomorrow."

// placeOutbound asks the server to place a call; a refusal this server is
// configured to give (quiet hours, a rate limit) skips the scenario.
func placeOutbound(ctx context.Context, e *Env, to, body string) (string, error) {
	code, b, err := e.Target.API(ctx, "POST", "/api/calls", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	var out struct {
		CallSid string
		Error   struct{ Code, Message string }
	}
	_ = json.Unmarshal(b, &out)
	switch {
	case code == 202 && out.CallSid != "":
		return out.CallSid, nil
	case out.Error.Code == "quiet_hours" || out.Error.Code == "rate_limited" || out.Error.Code == "country_not_allowed":
		return "", skip(fmt.Sprintf("the server refused to call %s: %s (%s)", redact.Phone(to), out.Error.Code, out.Error.Message))
	default:
		return "", fmt.Errorf("POST /api/calls = %d %s", code, b)
	}
}

// runOutbound places two calls through POST /api/calls and plays Twilio
// for them through the fake REST API: a person answers the first (the
// agent speaks first, with the operator's context in its instructions),
// a machine the second (machineDetection hangup: <Hangup/>).
func runOutbound(ctx context.Context, e *Env, r *Result) error {
	if e.REST == nil {
		return skip("needs the fake Twilio REST API (the in-process run) to answer the call")
	}
	before := len(e.Realtime.Sessions())
	sid, err := placeOutbound(ctx, e, sim.OutboundCallee, `{"to":"`+sim.OutboundCallee+`","context":"`+outboundContext+`","machineDetection":"hangup"}`)
	if err != nil {
		return err
	}
	r.CallSID, r.Caller = sim.MaskSID(sid), redact.Phone(sim.OutboundCallee)
	placed := e.REST.PlacedCalls()
	if len(placed) == 0 || placed[len(placed)-1].SID != sid || placed[len(placed)-1].Form.Get("MachineDetection") != "Enable" {
		return fmt.Errorf("the fake Twilio did not receive the call with machine detection")
	}
	ans, err := e.REST.AnswerCall(ctx, sid, "human")
	if err != nil || ans.Status != 200 {
		return fmt.Errorf("answering webhook = %d (%v)", ans.Status, err)
	}
	tw, err := sim.ParseTwiML(ans.Body)
	if err != nil {
		return err
	}
	r.Answer = tw.Decision()
	streamURL, params, ok := tw.Stream()
	if !ok {
		return fmt.Errorf("a person answered and got %q, want a <Connect><Stream>", tw.Decision())
	}
	c, err := e.Target.DialStream(ctx, streamURL, fake.MediaOptions{RealTime: true, CallSid: sid, AccountSid: e.Target.AccountSID, CustomParameters: params})
	if err != nil {
		return fmt.Errorf("media stream: %w", err)
	}
	callParams := url.Values{"CallSid": {sid}, "AccountSid": {e.Target.AccountSID}, "From": {placed[len(placed)-1].Form.Get("From")}, "To": {sim.OutboundCallee}}
	lc := &liveCall{a: &sim.Attempt{Params: callParams}, c: c, t: startTalking(c), start: time.Now()}
	defer lc.cleanup(ctx, e)
	if lc.sess, err = e.Realtime.WaitSession(ctx, before+1); err != nil {
		return fmt.Errorf("no model session opened: %w", err)
	}
	greeting, err := lc.greeted(ctx)
	if err != nil {
		return err
	}
	if first := lc.sess.Responses()[0]; !strings.Contains(first.Instructions, outboundContext) {
		return fmt.Errorf("the agent's first words were asked without the call's context")
	}
	if err := lc.hangUp(ctx, e); err != nil {
		return err
	}

	msid, err := placeOutbound(ctx, e, sim.OutboundMachineCallee, `{"to":"`+sim.OutboundMachineCallee+`","machineDetection":"hangup"}`)
	if err != nil {
		return err
	}
	ans, err = e.REST.AnswerCall(ctx, msid, "machine_start")
	if err != nil || ans.Status != 200 {
		return fmt.Errorf("answering webhook (machine) = %d (%v)", ans.Status, err)
	}
	mtw, err := sim.ParseTwiML(ans.Body)
	if err != nil {
		return err
	}
	if _, err := e.REST.SendCallStatus(ctx, msid, "completed", 1); err != nil {
		return fmt.Errorf("status callback (machine): %w", err)
	}
	if mtw.Decision() != "hangup" {
		return fmt.Errorf("a machine answered and got %q, want <Hangup/>", mtw.Decision())
	}
	r.Detail = fmt.Sprintf("person: greeting %d ms heard, the call's context in the agent's instructions; machine: <Hangup/>", ms(greeting))
	return nil
}
