package voice

import (
	"context"
	"strings"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
)

// Answered is what POST /voice/outbound reads from Twilio's answering
// webhook of an outbound call.
type Answered struct {
	CallSID string
	// AnsweredBy is Twilio's machine-detection result (human,
	// machine_start, machine_end_beep, machine_end_silence,
	// machine_end_other, fax, unknown); empty without detection.
	AnsweredBy string
}

// ByMachine reports whether Twilio's AnsweredBy says a machine or a fax
// answered.
func ByMachine(answeredBy string) bool {
	a := strings.ToLower(strings.TrimSpace(answeredBy))
	return strings.HasPrefix(a, "machine") || strings.HasPrefix(a, "fax")
}

// ConnectOutbound answers POST /voice/outbound, fetched by Twilio when the
// callee of a call placed with POST /api/calls answers: <Connect><Stream>
// with a one-time token for the call (the relay then finds the call's
// agent and context through its record), exactly as /voice/accept does
// for incoming calls, pre-warm included. A call this server did not place,
// or one that has ended, gets <Hangup/> and nothing is minted.
//
// AnsweredBy is only sent when the call asked for machine detection, and
// a call asks for it only with machineDetection=hangup: a machine or fax
// then gets <Hangup/> and the call ends with the reason machine.
func (s *Service) ConnectOutbound(ctx context.Context, in Answered) (Answer, error) {
	if !ValidCallSID(in.CallSID) {
		return Answer{}, apperr.New(apperr.Invalid, "CallSid is missing or malformed")
	}
	if s.settings.Links.StreamBase == "" {
		return Answer{}, apperr.New(apperr.Internal, "PUBLIC_URL must be https for media streams")
	}
	c, err := s.calls.FindCall(ctx, in.CallSID, "")
	if apperr.Is(err, apperr.NotFound) {
		s.log.Warn("answering webhook for a call this server did not place", "call_sid", in.CallSID)
		return endedAnswer(), nil
	}
	if err != nil {
		return Answer{}, err
	}
	if c.Direction != DirectionOutbound || c.Decision != Accept || c.EndedAt != nil || FinalStatus(c.Status) {
		return endedAnswer(), nil
	}
	if ByMachine(in.AnsweredBy) {
		if err := s.endOutbound(ctx, in.CallSID, EndMachine, "twilio"); err != nil {
			return Answer{}, err
		}
		s.audit.Record(audit.Event{Type: audit.TypeCallEnd, Severity: audit.Info, Actor: "twilio", CallSID: in.CallSID,
			Detail: map[string]any{"outcome": "ended", "reason": string(EndMachine), "answeredBy": strings.ToLower(in.AnsweredBy)}})
		s.log.Info("outbound call answered by a machine: hung up", "call_sid", in.CallSID)
		return endedAnswer(), nil
	}
	return s.stream(ctx, in.CallSID, c.To)
}

// endRecorder records a call's end with its reason (the store).
type endRecorder interface {
	EndWithReason(ctx context.Context, callSID string, reason EndReason, at time.Time) (bool, error)
}

// endOutbound records the end of a call with its reason, frees its slot
// and revokes its unused stream tokens.
func (s *Service) endOutbound(ctx context.Context, callSID string, reason EndReason, by string) error {
	er, ok := s.calls.(endRecorder)
	if !ok {
		return apperr.New(apperr.Internal, "call store cannot record end reasons")
	}
	if _, err := er.EndWithReason(ctx, callSID, reason, s.now()); err != nil {
		return err
	}
	s.log.Debug("call ended", "call_sid", callSID, "end_reason", string(reason), "by", by)
	return s.tokens.RevokeStreamTokens(ctx, callSID)
}

// EndWithReason records a call's end with its reason (the first end's
// reason is kept). It is what the operator's end and machine detection
// use.
func (s *Service) EndWithReason(ctx context.Context, callSID string, reason EndReason, by string) error {
	return s.endOutbound(ctx, callSID, reason, by)
}
