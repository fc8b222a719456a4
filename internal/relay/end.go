package relay

import (
	"context"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// callEnd is the relay's report of a call's end to the call records
// (voice.EndCall): its close reason mapped to the recorded end reason,
// the close reason itself kept as the detail for the log.
func (c *Call) callEnd(why endReason) voice.CallEnd {
	return voice.CallEnd{CallSID: c.callSID, Reason: why.recorded(), By: "relay", Detail: string(why)}
}

// recorded is the end reason the call's record keeps for a close reason:
//
//   - stream_stopped, caller_disconnected: the caller hung up (Twilio
//     stopped or closed the stream);
//   - agent_ended, max_duration, transferred: the same;
//   - idle_timeout: idle;
//   - model_unavailable, model_disconnected, session_expired,
//     policy_violation, budget_exceeded, internal_error: model_error (the
//     agent's side failed or was stopped for misbehaving; the close reason
//     in the log tells which);
//   - shutdown: operator (whoever stopped the server ended the call;
//     neither the caller, the agent nor the model did).
func (e endReason) recorded() voice.EndReason {
	switch e {
	case endStop, endTwilioClosed:
		return voice.EndCallerHangup
	case endAgent:
		return voice.EndAgentEnded
	case endMaxDuration:
		return voice.EndMaxDuration
	case endIdle:
		return voice.EndIdle
	case endTransferred:
		return voice.EndTransferred
	case endShutdown:
		return voice.EndOperator
	}
	return voice.EndModelError
}

// recordEnding records why the call is about to end before the relay
// asks Twilio to hang up, so the status callback that hang-up causes does
// not record a caller hang-up first. A failure is logged: EndCall follows.
func (c *Call) recordEnding(ctx context.Context, why endReason) {
	if c.r.Calls == nil {
		return
	}
	if err := c.r.Calls.EndingCall(ctx, c.callEnd(why)); err != nil && !apperr.Is(err, apperr.NotFound) {
		c.log.Warn("recording the call's end reason failed", "reason", string(why), "err", err)
	}
}

// recordEnd reports the end of the call's stream as the end of the call.
// It returns the reason the relay reports (transferred when the call was
// handed over and lives on) and whether the relay announces the end: only
// when this report ended the call (Twilio's status callback may have come
// first and announced it).
func (c *Call) recordEnd(ctx context.Context, why endReason) (endReason, bool) {
	// A transferred call lives on (in the conference or the forward):
	// only the stream ended, and Twilio's status callback ends the call.
	if c.transferred.Load() && (why == endStop || why == endTwilioClosed) {
		why = endTransferred
	}
	if why == endTransferred {
		return why, false
	}
	if c.r.Calls == nil {
		return why, true
	}
	res, err := c.r.Calls.EndCall(ctx, c.callEnd(why))
	switch {
	case apperr.Is(err, apperr.NotFound):
		return why, false
	case err != nil:
		c.log.Warn("recording the call end failed", "err", err)
		return why, true
	case res.Transferred:
		// An operator moved the call (the relay's own tools set the
		// flag above): it is not over, so no call.ended.
		return endTransferred, false
	}
	return why, res.Announce()
}
