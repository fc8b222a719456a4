package outbound

import (
	"context"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/redact"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// End hangs up a live call, inbound or outbound, through Twilio (Status
// completed) and records the end reason operator. An unknown call is
// apperr.NotFound, one that has ended apperr.Conflict.
//
// The reason is recorded before Twilio is asked: Twilio ends the media
// stream as it hangs up, and the relay's report of that end must not be
// taken for the caller hanging up. A refused hang-up takes it back.
func (s *Service) End(ctx context.Context, actor, callSID string) error {
	if !voice.ValidCallSID(callSID) {
		return apperr.New(apperr.Invalid, "callSid must be CA followed by 32 hex digits")
	}
	c, err := s.d.Calls.FindCall(ctx, callSID)
	if err != nil {
		return err
	}
	if c.EndedAt != nil || voice.FinalStatus(c.Status) {
		return apperr.New(apperr.Conflict, "the call has already ended")
	}
	if c.Decision != voice.Accept {
		return apperr.New(apperr.Conflict, "the call was refused and is not live")
	}
	if s.d.Telephony == nil {
		return apperr.New(apperr.Unavailable, "ending calls needs Twilio REST credentials")
	}
	by := "api:" + actor
	tctx := context.WithoutCancel(ctx)
	if err := s.d.Calls.MarkEnding(ctx, callSID, voice.EndOperator, by, false); err != nil {
		return err
	}
	outcome := "ended"
	if err := s.d.Telephony.HangUp(ctx, callSID); err != nil {
		if uerr := s.d.Calls.MarkEnding(tctx, callSID, voice.EndOperator, by, true); uerr != nil {
			s.d.Log.Error("end reason not taken back after a refused hang-up", "call_sid", callSID, "err", uerr)
		}
		s.d.Log.Warn("twilio refused to end the call", "call_sid", callSID, "err", redact.Text(err.Error()))
		s.auditEnd(actor, callSID, "upstream_error")
		return apperr.Wrap(err, apperr.Upstream, "the telephony provider refused to end the call")
	}
	if err := s.d.Calls.EndCall(tctx, callSID, voice.EndOperator, by); err != nil {
		outcome = "ended_unrecorded"
		s.d.Log.Error("operator end not recorded", "call_sid", callSID, "err", err)
	}
	s.auditEnd(actor, callSID, outcome)
	return nil
}

func (s *Service) auditEnd(actor, callSID, outcome string) {
	sev := audit.Info
	if outcome != "ended" {
		sev = audit.Warning
	}
	s.d.Audit.Record(audit.Event{Type: audit.TypeCallEnd, Severity: sev, Actor: actor, CallSID: callSID,
		Detail: map[string]any{"outcome": outcome, "reason": string(voice.EndOperator)}})
}
