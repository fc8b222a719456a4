package voice

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// Caller-name policies (CALLER_NAME_POLICY).
const (
	NamePolicyOff          = "off"
	NamePolicyBlockUnknown = "block-unknown"
	NamePolicyBusinessOnly = "business-only"
)

// Settings are the policy's configuration.
type Settings struct {
	PhoneNumber      string   // TWILIO_PHONE_NUMBER: other To numbers are rejected ("" accepts any)
	BlockedCountries []string // BLOCKED_COUNTRIES, ISO 3166 alpha-2, upper case
	CallerNamePolicy string   // CALLER_NAME_POLICY
	MaxConcurrent    int      // MAX_CONCURRENT_CALLS
	// MaxCallDuration bounds how long a streaming call can hold a slot
	// without a status callback (the relay ends calls at this length; the
	// SlotSweeper frees the slot a minute later).
	MaxCallDuration time.Duration
	Links           Links
}

// Deps are the service's collaborators. Calls, Tokens, Lists and Audit are
// required; the rest may be nil.
type Deps struct {
	Calls   CallStore
	Tokens  TokenStore
	Lists   ListStore
	Audit   Auditor
	Log     *slog.Logger
	Events  events.Publisher // nil: events.Discard{}
	Names   CallerNames      // nil: the caller-name policy fails open
	Prewarm Prewarmer        // nil: no pre-warm
	// OnDecision is told each new decision (metrics).
	OnDecision func(d Decision, reason string)
	// Numbers decides which agent answers a To number and whether it is
	// a service number at all (TWILIO_PHONE_NUMBER or a number assigned
	// through /api/numbers). Nil: only TWILIO_PHONE_NUMBER is.
	Numbers NumberRouter
	// Records records the stream, hand-over and end of accepted calls
	// (nil: built from Calls and Log).
	Records *CallRecords
}

// NumberRouter is *agents.Service.
type NumberRouter interface {
	AgentFor(ctx context.Context, to string) (agentID string, ok bool, err error)
}

// Service runs the inbound-call policy and owns call records and stream
// tokens. It is safe for concurrent use.
type Service struct {
	*CallRecords
	calls      CallStore
	tokens     TokenStore
	lists      ListStore
	audit      Auditor
	log        *slog.Logger
	events     events.Publisher
	names      *nameCache
	prewarm    Prewarmer
	onDecision func(Decision, string)
	numbers    NumberRouter
	settings   Settings
	countries  map[string]bool
	answers    map[Decision]string // DecisionTwiML of each decision, built once
	now        func() time.Time
}

// New returns a service.
func New(d Deps, s Settings) *Service {
	svc := &Service{
		calls: d.Calls, tokens: d.Tokens, lists: d.Lists, audit: d.Audit, log: d.Log,
		events: d.Events, prewarm: d.Prewarm, onDecision: d.OnDecision, settings: s,
		numbers:   d.Numbers,
		countries: map[string]bool{}, now: time.Now,
	}
	if svc.log == nil {
		svc.log = slog.New(slog.DiscardHandler)
	}
	if svc.events == nil {
		svc.events = events.Discard{}
	}
	if svc.onDecision == nil {
		svc.onDecision = func(Decision, string) {}
	}
	if s.CallerNamePolicy == "" {
		svc.settings.CallerNamePolicy = NamePolicyOff
	}
	if s.MaxCallDuration <= 0 {
		svc.settings.MaxCallDuration = 30 * time.Minute
	}
	for _, c := range s.BlockedCountries {
		svc.countries[strings.ToUpper(strings.TrimSpace(c))] = true
	}
	svc.CallRecords = d.Records
	if svc.CallRecords == nil {
		svc.CallRecords = NewCallRecords(d.Calls, svc.log)
	}
	svc.names = newNameCache(d.Names, svc.now)
	// A decision's TwiML depends only on the configured links: build each
	// once instead of per call.
	svc.answers = map[Decision]string{}
	for _, dec := range []Decision{Accept, Hangup, Busy, Reject} {
		if tw, err := DecisionTwiML(dec, "", svc.settings.Links); err == nil {
			svc.answers[dec] = tw
		}
	}
	return svc
}

// Answer is the TwiML for a webhook and the call it concerns.
type Answer struct {
	TwiML    string
	Decision Decision
	Reason   string
	Replayed bool   // a retry: the stored answer was returned
	From     string // the caller as first recorded ("" when anonymous)
	Ended    bool   // the call has ended (Connect then answers <Hangup/>)
}

// pendingSlotTTL is how long an accepted call that never started a stream
// holds a capacity slot without a status callback.
const pendingSlotTTL = 2 * time.Minute

// Incoming decides a new call (POST /voice/incoming). A retry of the same
// call (CallSid or idempotency key) gets the stored answer and no new row.
// draining answers busy for new calls while the server shuts down.
func (s *Service) Incoming(ctx context.Context, in Inbound, th Throttle, draining bool) (Answer, error) {
	in = in.normalize()
	if !ValidCallSID(in.CallSID) {
		return Answer{}, apperr.New(apperr.Invalid, "CallSid is missing or malformed")
	}
	// A retry is recognised by AdmitCall, in the same transaction as the
	// insert (one lookup less per call on the hot path); the policy it
	// runs first only costs the retry a throttling token.
	d, reason := Busy, ReasonDraining
	if !draining {
		var err error
		d, reason, err = s.decide(ctx, &in, th)
		if err != nil {
			return Answer{}, err
		}
	}
	c, err := s.newCall(in, d, reason)
	if err != nil {
		return Answer{}, err
	}
	if d == Accept && in.agentID != "default" {
		// The agent that answers is stored with the call (the column's
		// default, "", is the default agent), so the admission's
		// call.started event names it.
		c.AgentID = in.agentID
	}
	var capacity *Capacity
	if d == Accept {
		over, err := s.newCall(in, Busy, ReasonCapacity)
		if err != nil {
			return Answer{}, err
		}
		capacity = &Capacity{Max: s.settings.MaxConcurrent, Overflow: over}
	}
	stored, created, err := s.calls.AdmitCall(ctx, c, capacity)
	if err != nil {
		return Answer{}, err
	}
	if created {
		s.decided(stored)
	}
	return Answer{TwiML: stored.TwiML, Decision: stored.Decision, Reason: stored.Reason, Replayed: !created, From: stored.From}, nil
}

// newCall builds the record of a decision with its TwiML.
func (s *Service) newCall(in Inbound, d Decision, reason string) (Call, error) {
	tw, ok := s.answers[d]
	if !ok {
		var err error
		if tw, err = DecisionTwiML(d, reason, s.settings.Links); err != nil {
			return Call{}, err
		}
	}
	status := in.CallStatus
	if status == "" {
		status = "ringing"
	}
	// A refused call (rejected, hung up or busy) is never answered: its
	// end reason is known at the decision, and the status callback that
	// ends its record keeps it (the first end wins).
	var end EndReason
	if d != Accept {
		end = EndRefused
	}
	return Call{
		CallSID: in.CallSID, AccountSID: in.AccountSID, From: in.From, To: in.To,
		FromCountry: in.FromCountry, CallerName: in.CallerName,
		Decision: d, Reason: reason, Status: status, Active: d == Accept,
		TwiML: tw, IdempotencyKey: in.IdempotencyKey,
		CreatedAt: s.now().UTC().Truncate(time.Millisecond),
		EndReason: end,
	}, nil
}

// decided audits, counts and publishes a new decision.
func (s *Service) decided(c Call) {
	sev := audit.Info
	if c.Decision != Accept {
		sev = audit.Warning
	}
	s.audit.Record(audit.Event{
		Type: audit.TypeCallDecision, Severity: sev, Actor: "twilio", CallSID: c.CallSID,
		Detail: map[string]any{
			"decision": string(c.Decision), "reason": c.Reason,
			"from": redact.Phone(c.From), "to": redact.Phone(c.To), "fromCountry": c.FromCountry,
		},
	})
	s.onDecision(c.Decision, c.Reason)
	s.events.Publish(events.Event{
		Type: events.CallReceived, CallSID: c.CallSID, Time: s.now(),
		Data: map[string]any{"decision": string(c.Decision), "reason": c.Reason, "from": c.From, "fromCountry": c.FromCountry},
	})
	s.log.Info("call decision", "call_sid", c.CallSID, "decision", string(c.Decision), "reason", c.Reason, "from", redact.Phone(c.From))
}

// admitted returns the stored decision for a call reaching /voice/accept
// or /twiml, running the policy first when the call was never seen (a
// number pointed straight at those URLs must not skip the caller controls).
func (s *Service) admitted(ctx context.Context, in Inbound, th Throttle, draining bool) (Answer, error) {
	c, err := s.calls.FindCall(ctx, in.CallSID, "")
	if err == nil {
		return Answer{TwiML: c.TwiML, Decision: c.Decision, Reason: c.Reason, From: c.From, Ended: c.EndedAt != nil}, nil
	}
	if !apperr.Is(err, apperr.NotFound) {
		return Answer{}, err
	}
	// The idempotency key belongs to this delivery, not to an
	// /voice/incoming delivery; it must not shadow one.
	in.IdempotencyKey = ""
	return s.Incoming(ctx, in, th, draining)
}

// MarkStreamStarted records that the call's media stream started.
func (s *CallRecords) MarkStreamStarted(ctx context.Context, callSID string) error {
	if err := s.calls.MarkStreamStarted(ctx, callSID, s.now()); err != nil && !apperr.Is(err, apperr.NotFound) {
		return err
	}
	return nil
}

// Status applies a call status callback (POST /voice/status). Callbacks
// for calls this server never recorded (outbound legs) are ignored. When
// the callback is what ended the call (rejected, busy or transferred
// calls, callers who hung up before their stream), it records the end
// (see EndCall: the first end wins) and publishes call.ended; a call
// whose end was already recorded (by the relay) is not announced again.
func (s *Service) Status(ctx context.Context, u StatusUpdate) error {
	if !ValidCallSID(u.CallSID) {
		return apperr.New(apperr.Invalid, "CallSid is missing or malformed")
	}
	if !statusPattern.MatchString(u.Status) {
		return apperr.New(apperr.Invalid, "CallStatus is missing or malformed")
	}
	if u.DurationSec != nil && (*u.DurationSec < 0 || *u.DurationSec > 7*24*3600) {
		return apperr.New(apperr.Invalid, "CallDuration is out of range")
	}
	if u.At.IsZero() {
		u.At = s.now()
	}
	ended, err := s.endByStatus(ctx, u)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return err
	}
	if FinalStatus(u.Status) && err == nil {
		// A token must not outlive its call: the unused ones die now.
		if err := s.tokens.RevokeStreamTokens(ctx, u.CallSID); err != nil {
			return err
		}
	}
	if ended {
		data := map[string]any{"status": u.Status}
		if u.DurationSec != nil {
			data["durationSec"] = *u.DurationSec
		}
		s.events.Publish(events.Event{Type: events.CallEnded, CallSID: u.CallSID, Time: s.now(), Data: data})
	}
	return nil
}

// normalize keeps each field to its expected shape; anything else is
// dropped, never passed on.
func (in Inbound) normalize() Inbound {
	in.CallSID = strings.TrimSpace(in.CallSID)
	if !acctSIDPattern.MatchString(in.AccountSID) {
		in.AccountSID = ""
	}
	in.From = e164OrEmpty(in.From)
	in.To = e164OrEmpty(in.To)
	in.FromCountry = strings.ToUpper(strings.TrimSpace(in.FromCountry))
	if !countryPattern.MatchString(in.FromCountry) {
		in.FromCountry = ""
	}
	in.CallerName = CleanCallerName(in.CallerName)
	if !statusPattern.MatchString(in.CallStatus) {
		in.CallStatus = ""
	}
	if !tokenPattern.MatchString(in.IdempotencyKey) {
		in.IdempotencyKey = ""
	}
	return in
}
