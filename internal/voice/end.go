package voice

import (
	"context"
	"log/slog"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

// CallEnd is one report that a call ended, or for EndTransferred that it
// was handed over from the agent.
type CallEnd struct {
	CallSID string
	Reason  EndReason
	// By names who ended the call, as audit actors are named: "twilio"
	// (status callback), "relay", "agent", "system", "api:<token name>".
	// It goes to the log with the end.
	By string
	At time.Time // zero: now
	// Detail is the reporter's own finer reason (the relay's close
	// reason, such as "idle_timeout"), for the log only.
	Detail string
}

// EndResult is what EndCall decided.
type EndResult struct {
	// Ended reports that this report ended the call's record now (it had
	// no end before): the first end wins, and only its reporter
	// announces the end (call.ended event, audit). False for a call that
	// had already ended, and for a transfer.
	Ended bool
	// Transferred reports that the call was handed over to a conference
	// or forward: it lives on without the agent, its end reason is
	// 'transferred', and Twilio's final status callback ends its record.
	Transferred bool
}

// Announce reports whether the reporter announces the end (publishes
// call.ended and audits it): only the report that ended the call does.
func (r EndResult) Announce() bool { return r.Ended && !r.Transferred }

// validEndReasons are the reasons EndCall accepts (EndRefused is written
// with the refused call's record by AdmitCall, and by ClaimStreamSlot).
var validEndReasons = map[EndReason]bool{
	EndCallerHangup: true, EndAgentEnded: true, EndTransferred: true, EndMaxDuration: true, EndIdle: true,
	EndMachine: true, EndModelError: true, EndOperator: true, EndRefused: true,
}

// ValidEndReason reports whether r is one of the end reasons.
func ValidEndReason(r EndReason) bool { return validEndReasons[r] }

// EndCall is the one way a call's end is recorded: the relay's teardown,
// the status callback (Status), the conference hand-over (EndTransferred),
// an operator (EndOperator) and outbound machine detection (EndMachine)
// all report here. The first end recorded wins: its reason is kept and
// later reports change nothing but what Twilio's final status adds. An
// unknown call is apperr.NotFound; an invalid report apperr.Invalid.
//
// EndTransferred marks the call as handed over (its media stream's end
// no longer ends it) and records the reason; the record itself ends with
// Twilio's final status callback. Any other reason ends the record now
// and frees the call's capacity slot, unless the call was transferred
// (then the result says Transferred and nothing is written).
func (s *Service) EndCall(ctx context.Context, e CallEnd) (EndResult, error) {
	if !ValidCallSID(e.CallSID) {
		return EndResult{}, apperr.New(apperr.Invalid, "CallSid is missing or malformed")
	}
	if !ValidEndReason(e.Reason) {
		return EndResult{}, apperr.New(apperr.Invalid, "unknown end reason")
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	if e.Reason == EndTransferred {
		if err := s.calls.SetTransferred(ctx, e.CallSID, true, e.At); err != nil {
			return EndResult{}, err
		}
		s.log.Debug("call handed over", "call_sid", e.CallSID, "by", e.By, "detail", e.Detail)
		return EndResult{Transferred: true}, nil
	}
	ended, err := s.calls.EndCall(ctx, e)
	if apperr.Is(err, apperr.Conflict) {
		s.log.Debug("media stream of a transferred call ended", "call_sid", e.CallSID, "by", e.By, "detail", e.Detail)
		return EndResult{Transferred: true}, nil
	}
	if err != nil {
		return EndResult{}, err
	}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.Debug("call ended", "call_sid", e.CallSID, "end_reason", string(e.Reason), "by", e.By,
			"detail", e.Detail, "already_ended", !ended)
	}
	return EndResult{Ended: ended}, nil
}

// EndingCall records why the call is about to end, before its reporter
// asks Twilio to hang up: the status callback that hang-up causes then
// keeps this reason instead of recording a caller hang-up. EndCall must
// still follow (it ends the record and decides the announcement); a
// reason recorded already, and a transferred call, are left alone.
func (s *Service) EndingCall(ctx context.Context, e CallEnd) error {
	if !ValidCallSID(e.CallSID) {
		return apperr.New(apperr.Invalid, "CallSid is missing or malformed")
	}
	if !ValidEndReason(e.Reason) || e.Reason == EndTransferred {
		return apperr.New(apperr.Invalid, "unknown end reason")
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	return s.calls.SetEndReason(ctx, e.CallSID, e.Reason, e.At)
}

// ResumeCall takes back a hand-over that Twilio refused: the call is the
// agent's again, and the 'transferred' end reason is withdrawn while the
// call is live.
func (s *Service) ResumeCall(ctx context.Context, callSID string) error {
	return s.calls.SetTransferred(ctx, callSID, false, s.now())
}

// CallState reports whether the call is recorded and whether it ended
// (a final status or a recorded end).
func (s *Service) CallState(ctx context.Context, callSID string) (known, ended bool, err error) {
	return s.calls.CallState(ctx, callSID)
}

// endByStatus applies a status callback: a final status ends the record
// with EndCallerHangup unless an end was recorded first (the relay's, a
// transfer, a refusal). A call that ended without its stream (the caller
// hung up before it started; an outbound call busy, not answered, failed
// or canceled) is a caller hang-up: nobody else ended it. ended reports
// that this callback ended the call, so Status announces it.
func (s *Service) endByStatus(ctx context.Context, u StatusUpdate) (ended bool, err error) {
	u.Reason = ""
	if FinalStatus(u.Status) {
		u.Reason = EndCallerHangup
	}
	ended, err = s.calls.UpdateCallStatus(ctx, u)
	if ended && s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.Debug("call ended", "call_sid", u.CallSID, "end_reason", string(u.Reason), "status", u.Status, "by", "twilio")
	}
	return ended, err
}
