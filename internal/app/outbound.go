package app

import (
	"context"
	"fmt"

	"github.com/voiceagent/voiceagent/internal/agents"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/dialguard"
	"github.com/voiceagent/voiceagent/internal/outbound"
	"github.com/voiceagent/voiceagent/internal/twilioapi"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// buildOutbound wires outbound calls (POST /api/calls): the toll-fraud
// guard of every dialled number, quiet hours, the rate limits counted in
// the database (so they hold across instances) and the capacity slots of
// MAX_CONCURRENT_CALLS.
func (a *App) buildOutbound() error {
	cfg := a.Config
	guard, err := dialguard.New(cfg.DialGuardSettings())
	if err != nil {
		return fmt.Errorf("dial guard: %w", err)
	}
	settings := outbound.Settings{
		DefaultFrom:    cfg.OutboundFrom(),
		ServiceNumbers: []string{cfg.TwilioPhoneNumber, cfg.TwilioOutboundNumber},
		Guard:          guard,
		Quiet:          cfg.Outbound.QuietHours,
		Limits: outbound.Limits{PerMinute: cfg.Outbound.PerMinute, PerDay: cfg.Outbound.PerDay,
			PerDestination: 1, DestinationWindow: outbound.DestinationWindow},
		MaxConcurrent: cfg.MaxConcurrentCalls,
		HashKey:       cfg.PrivacyHashKey,
	}
	if u := cfg.PublicURL; u != nil && u.Scheme == "https" {
		settings.AnswerURL = u.JoinPath("/voice/outbound").String()
		settings.StatusURL = u.JoinPath("/voice/status").String()
	}
	deps := outbound.Deps{
		Store: a.DB.Outbound(),
		Calls: outboundCalls{a},
		Audit: a.Audit,
		Log:   a.Log,
	}
	if a.Twilio != nil {
		deps.Telephony = telephony{a.Twilio}
	}
	if a.Agents != nil {
		deps.Agents = outboundAgents{a.Agents}
	}
	a.Outbound = outbound.New(deps, settings)
	return nil
}

// telephony adapts the Twilio REST client to outbound.Telephony.
type telephony struct{ c *twilioapi.Client }

func (t telephony) CreateCall(ctx context.Context, d outbound.Dial) (string, string, error) {
	return t.c.CreateCall(ctx, twilioapi.OutboundCall{To: d.To, From: d.From, URL: d.AnswerURL, StatusCallback: d.StatusURL, MachineDetection: d.MachineDetection})
}

func (t telephony) HangUp(ctx context.Context, callSID string) error { return t.c.HangUp(ctx, callSID) }

// outboundAgents adapts the agents service to outbound.Agents.
type outboundAgents struct{ s *agents.Service }

func (o outboundAgents) AgentFor(ctx context.Context, number string) (string, bool, error) {
	return o.s.AgentFor(ctx, number)
}

func (o outboundAgents) Assigned(ctx context.Context, number string) (bool, error) {
	return o.s.Assigned(ctx, number)
}

func (o outboundAgents) AgentExists(ctx context.Context, id string) (bool, error) {
	_, err := o.s.GetAgent(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return false, nil
	}
	return err == nil, err
}

// outboundCalls adapts the call records to outbound.Calls.
type outboundCalls struct{ a *App }

func (o outboundCalls) FindCall(ctx context.Context, callSID string) (voice.Call, error) {
	return o.a.DB.Calls().FindCall(ctx, callSID, "")
}

func (o outboundCalls) Blocked(ctx context.Context, number string) (bool, error) {
	return o.a.Voice.Blocked(ctx, number)
}

func (o outboundCalls) EndCall(ctx context.Context, callSID string, reason voice.EndReason, by string) error {
	return o.a.Voice.EndAndAnnounce(ctx, voice.CallEnd{CallSID: callSID, Reason: reason, By: by})
}

func (o outboundCalls) MarkEnding(ctx context.Context, callSID string, reason voice.EndReason, by string, undo bool) error {
	if undo {
		return o.a.DB.Calls().WithdrawEndReason(ctx, callSID, reason)
	}
	return o.a.Voice.EndingCall(ctx, voice.CallEnd{CallSID: callSID, Reason: reason, By: by})
}
