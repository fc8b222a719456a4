package outbound

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/voiceagent/voiceagent/internal/agents"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/dialguard"
	"github.com/voiceagent/voiceagent/internal/phone"
	"github.com/voiceagent/voiceagent/internal/redact"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// MaxContext is the longest context, in characters.
const MaxContext = 2000

// Machine detection modes of a request.
const (
	MachineOff    = "off"
	MachineHangup = "hangup"
)

// Request is one POST /api/calls body.
type Request struct {
	To               string
	From             string // "": Settings.DefaultFrom
	AgentID          string // "": the agent of From
	Context          string
	MachineDetection string // off (default) or hangup
}

// Placed is a call Twilio accepted to place.
type Placed struct {
	CallSID   string
	Status    string
	To, From  string
	AgentID   string
	Direction voice.Direction
}

// Place runs every guard on req and, when all let it through, has Twilio
// place the call. actor is the API token's name (stored as placed_by).
// Every attempt is audited with its outcome (the error code, or placed).
func (s *Service) Place(ctx context.Context, actor string, req Request) (Placed, error) {
	p, err := s.place(ctx, actor, &req)
	outcome, sev := "placed", audit.Info
	if err != nil {
		outcome, sev = string(apperr.CodeOf(err)), audit.Warning
	}
	s.d.Audit.Record(audit.Event{
		Type: audit.TypeOutboundCall, Severity: sev, Actor: actor, CallSID: p.CallSID,
		Detail: map[string]any{"to": redact.Phone(req.To), "from": redact.Phone(req.From), "agentId": req.AgentID,
			"machineDetection": req.MachineDetection, "outcome": outcome},
	})
	if err != nil {
		s.d.Log.Info("outbound call refused", "to", redact.Phone(req.To), "actor", actor, "outcome", outcome)
		return Placed{}, err
	}
	s.d.Log.Info("outbound call placed", "call_sid", p.CallSID, "to", redact.Phone(req.To), "actor", actor, "agent_id", p.AgentID)
	return p, nil
}

// place is Place without the audit row; it fills in req's defaults so
// the row shows what was decided.
func (s *Service) place(ctx context.Context, actor string, req *Request) (Placed, error) {
	if err := s.checkShape(req); err != nil {
		return Placed{}, err
	}
	if s.d.Telephony == nil || s.s.AnswerURL == "" {
		return Placed{}, apperr.New(apperr.Unavailable, "outbound calls need Twilio REST credentials and an https PUBLIC_URL")
	}
	if err := s.checkFrom(ctx, req); err != nil {
		return Placed{}, err
	}
	if err := s.checkDestination(ctx, req.To); err != nil {
		return Placed{}, err
	}
	if err := s.checkQuiet(req.To); err != nil {
		return Placed{}, err
	}
	now := s.now()
	attempt, err := s.d.Store.ReserveAttempt(ctx, s.destHash(req.To), s.s.Limits, now)
	if err != nil {
		return Placed{}, err
	}
	placed, err := s.dial(ctx, actor, *req, now)
	if err != nil {
		// Not placed: the attempt does not count against the limits.
		if rerr := s.d.Store.ReleaseAttempt(context.WithoutCancel(ctx), attempt); rerr != nil {
			s.d.Log.Warn("outbound attempt not released", "err", rerr)
		}
		return Placed{}, err
	}
	return placed, nil
}

// checkShape validates the request's fields (400) and fills defaults.
func (s *Service) checkShape(req *Request) error {
	if !phone.Valid(req.To) {
		return apperr.New(apperr.InvalidNumber, "to must be an E.164 number: + then the country code and number, digits only")
	}
	num, err := phonenumbers.Parse(req.To, "")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return apperr.New(apperr.InvalidNumber, "to is not a valid phone number")
	}
	if req.From == "" {
		req.From = s.s.DefaultFrom
	}
	if req.From == "" {
		return apperr.New(apperr.Invalid, "from is required (TWILIO_OUTBOUND_NUMBER is not set)")
	}
	if !phone.Valid(req.From) {
		return apperr.New(apperr.Invalid, "from must be an E.164 number")
	}
	switch req.MachineDetection {
	case "":
		req.MachineDetection = MachineOff
	case MachineOff, MachineHangup:
	default:
		return apperr.New(apperr.Invalid, "machineDetection must be off or hangup")
	}
	if !utf8.ValidString(req.Context) || utf8.RuneCountInString(req.Context) > MaxContext {
		return apperr.Errorf(apperr.Invalid, "context must be text of at most %d characters", MaxContext)
	}
	for _, r := range req.Context {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return apperr.New(apperr.Invalid, "context must not hold control characters")
		}
	}
	req.Context = strings.TrimSpace(req.Context)
	if req.AgentID != "" && !validAgentID(req.AgentID) {
		return apperr.New(apperr.Invalid, "agentId must be default or agt_ followed by 24 hex digits")
	}
	return nil
}

// checkFrom: from must be a service number; the agent defaults to the
// one answering from and must exist.
func (s *Service) checkFrom(ctx context.Context, req *Request) error {
	own := false
	for _, n := range s.s.ServiceNumbers {
		own = own || (n != "" && n == req.From)
	}
	if !own && s.d.Agents != nil {
		assigned, err := s.d.Agents.Assigned(ctx, req.From)
		if err != nil {
			return err
		}
		own = assigned
	}
	if !own {
		return apperr.New(apperr.Invalid, "from must be one of this service's numbers")
	}
	if req.AgentID == "" {
		req.AgentID = "default"
		if s.d.Agents != nil {
			id, ok, err := s.d.Agents.AgentFor(ctx, req.From)
			if err != nil {
				return err
			}
			if ok && id != "" {
				req.AgentID = id
			}
		}
		return nil
	}
	if req.AgentID == "default" || s.d.Agents == nil {
		if req.AgentID != "default" {
			return apperr.New(apperr.Invalid, "agentId names no agent")
		}
		return nil
	}
	ok, err := s.d.Agents.AgentExists(ctx, req.AgentID)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.New(apperr.Invalid, "agentId names no agent")
	}
	return nil
}

// checkDestination runs the toll-fraud guards on to.
func (s *Service) checkDestination(ctx context.Context, to string) error {
	for _, n := range s.s.ServiceNumbers {
		if n != "" && n == to {
			return apperr.New(apperr.OwnNumber, "to is one of this service's own numbers")
		}
	}
	if s.d.Agents != nil {
		assigned, err := s.d.Agents.Assigned(ctx, to)
		if err != nil {
			return err
		}
		if assigned {
			return apperr.New(apperr.OwnNumber, "to is one of this service's own numbers")
		}
	}
	switch s.s.Guard.Check(to) {
	case "":
	case dialguard.ReasonInvalid:
		return apperr.New(apperr.InvalidNumber, "to is not a valid phone number")
	case dialguard.ReasonOwnNumber:
		return apperr.New(apperr.OwnNumber, "to is one of this service's own numbers")
	case dialguard.ReasonCountry:
		return apperr.New(apperr.CountryNotAllowed, "to is in a country outbound calls may not reach (DIAL_ALLOWED_COUNTRIES)")
	default: // deny list, high-cost prefix or number type
		return apperr.New(apperr.DeniedDestination, "to may not be called (deny list or high-cost number)")
	}
	if s.d.Calls != nil {
		blocked, err := s.d.Calls.Blocked(ctx, to)
		if err != nil {
			return err
		}
		if blocked {
			return apperr.New(apperr.DeniedDestination, "to may not be called (deny list or high-cost number)")
		}
	}
	return nil
}

// checkQuiet refuses a call that would ring during quiet hours in any of
// the callee's time zones, naming the earliest allowed time.
func (s *Service) checkQuiet(to string) error {
	if s.s.Quiet == nil {
		return nil
	}
	zones, err := Zones(to)
	if err != nil {
		return apperr.New(apperr.QuietHours, "the callee's time zone is unknown, so quiet hours ("+s.s.Quiet.String()+") cannot be respected; set OUTBOUND_QUIET_HOURS=off to call such numbers")
	}
	ok, next := s.s.Quiet.Allowed(zones, s.now())
	if ok {
		return nil
	}
	names := make([]string, 0, len(zones))
	for _, z := range zones {
		names = append(names, z.String())
	}
	zoneText := names[0]
	if len(names) > 1 {
		zoneText = "every time zone of the number (" + strings.Join(names, ", ") + ")"
	}
	msg := "quiet hours (" + s.s.Quiet.String() + ") in " + zoneText
	if next.IsZero() {
		return apperr.New(apperr.QuietHours, msg+": no time of day is outside them everywhere")
	}
	return apperr.New(apperr.QuietHours, msg+"; earliest allowed time: "+next.Format(time.RFC3339))
}

// dial takes a capacity slot under a provisional record, has Twilio create
// the call, and gives the record Twilio's CallSid.
func (s *Service) dial(ctx context.Context, actor string, req Request, now time.Time) (Placed, error) {
	prov, err := provisionalSID()
	if err != nil {
		return Placed{}, err
	}
	agentID := req.AgentID
	if agentID == "default" {
		agentID = "" // the column's value for the default agent
	}
	c := voice.Call{
		CallSID: prov, From: req.From, To: req.To, Decision: voice.Accept, Status: "queued", Active: true,
		CreatedAt: now.UTC().Truncate(time.Millisecond), AgentID: agentID, Direction: voice.DirectionOutbound,
		PlacedBy: actor, Context: req.Context,
	}
	over := c
	over.Decision, over.Reason, over.Active, over.EndReason = voice.Busy, voice.ReasonCapacity, false, voice.EndRefused
	admitted, err := s.d.Store.AdmitOutbound(ctx, c, &voice.Capacity{Max: s.s.MaxConcurrent, Overflow: over})
	if err != nil {
		return Placed{}, err
	}
	if !admitted {
		return Placed{}, apperr.New(apperr.AtCapacity, "every call slot is in use (MAX_CONCURRENT_CALLS); try again later")
	}
	// Twilio's answer must not be lost to a client that went away: the
	// call would ring with no record to answer it.
	tctx := context.WithoutCancel(ctx)
	sid, status, err := s.d.Telephony.CreateCall(ctx, Dial{
		To: req.To, From: req.From, AnswerURL: s.s.AnswerURL, StatusURL: s.s.StatusURL,
		MachineDetection: req.MachineDetection == MachineHangup,
	})
	if err != nil || !voice.ValidCallSID(sid) {
		if ferr := s.d.Store.ForgetOutbound(tctx, prov); ferr != nil {
			s.d.Log.Error("outbound call record not removed", "err", ferr)
		}
		if err == nil {
			err = errors.New("twilio answered without a CallSid")
		}
		s.d.Log.Warn("twilio refused the outbound call", "to", redact.Phone(req.To), "err", redact.Text(err.Error()))
		return Placed{}, apperr.Wrap(err, apperr.Upstream, "the telephony provider refused the call")
	}
	if status == "" {
		status = "queued"
	}
	if err := s.d.Store.ConfirmOutbound(tctx, prov, sid, status, s.now()); err != nil {
		// The call rings with no record: its answering webhook finds
		// none and hangs up.
		return Placed{}, err
	}
	return Placed{CallSID: sid, Status: status, To: req.To, From: req.From, AgentID: req.AgentID, Direction: voice.DirectionOutbound}, nil
}

// validAgentID: "default" or an agent id's shape.
func validAgentID(id string) bool { return agents.ValidAgentID(id) }
