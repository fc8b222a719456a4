package voice

import (
	"context"
	"strings"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/events"
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
		if err := s.EndAndAnnounce(ctx, CallEnd{CallSID: in.CallSID, Reason: EndMachine, By: "twilio", Detail: "answered_by_machine"}); err != nil {
			return Answer{}, err
		}
		s.audit.Record(audit.Event{Type: audit.TypeCallEnd, Severity: audit.Info, Actor: "twilio", CallSID: in.CallSID,
			Detail: map[string]any{"outcome": "ended", "reason": string(EndMachine), "answeredBy": strings.ToLower(in.AnsweredBy)}})
		s.log.Info("outbound call answered by a machine: hung up", "call_sid", in.CallSID)
		return endedAnswer(), nil
	}
	return s.stream(ctx, in.CallSID, c.To)
}

// EndAndAnnounce ends a call for a reporter other than Twilio's status
// callback and the relay (machine detection, an operator): EndCall
// records the end, the unused stream tokens die, and when this report is
// what ended the call it publishes call.ended (nobody else will).
func (s *Service) EndAndAnnounce(ctx context.Context, e CallEnd) error {
	res, err := s.EndCall(ctx, e)
	if err != nil {
		return err
	}
	if err := s.tokens.RevokeStreamTokens(ctx, e.CallSID); err != nil {
		return err
	}
	if res.Announce() {
		s.events.Publish(events.Event{Type: events.CallEnded, CallSID: e.CallSID, Time: s.now(),
			Data: map[string]any{"status": "completed", "endReason": string(e.Reason)}})
	}
	return nil
}
