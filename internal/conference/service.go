package conference

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/dialguard"
	"github.com/voiceagent/voiceagent/internal/phone"
	"github.com/voiceagent/voiceagent/internal/redact"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// Settings are the service's configuration.
type Settings struct {
	// OutboundNumber is the caller ID for dialled targets and forwards
	// (TWILIO_OUTBOUND_NUMBER, else TWILIO_PHONE_NUMBER).
	OutboundNumber string
	// EventsURL is the absolute URL of POST /conference/events
	// (PUBLIC_URL + "/conference/events").
	EventsURL string
	// Blocked are deny-list numbers from the environment (CALLER_BLACKLIST),
	// refused besides the stored deny list.
	Blocked []string
	// Guard holds the toll-fraud rules every dialled number passes (own
	// numbers, deny prefixes, high-cost prefixes and types, countries).
	// Nil: a guard with the defaults, Blocked and OutboundNumber.
	Guard *dialguard.Guard
	// Assigned reports whether a number is assigned to an agent
	// (PUT /api/numbers): a service number too, refused like the own
	// numbers in Guard (dialling it loops the service into itself). Nil:
	// none.
	Assigned func(ctx context.Context, number string) (bool, error)
}

// Service runs conference actions. Every method is safe for concurrent use.
type Service struct {
	store    Store
	calls    Calls
	deny     DenyList
	twilio   Twilio
	audit    Auditor
	log      *slog.Logger
	settings Settings
	now      func() time.Time
}

// NewService returns a service; calls and deny are required. twilio may be nil when Twilio credentials
// are not configured: actions then fail with apperr.Unavailable, while
// stored data and conference events still work.
func NewService(store Store, calls Calls, deny DenyList, twilio Twilio, auditor Auditor, log *slog.Logger, settings Settings) *Service {
	if settings.Guard == nil {
		var deny []string
		for _, n := range settings.Blocked {
			if phone.Valid(n) {
				deny = append(deny, n)
			}
		}
		// Exact E.164 numbers and the built-in lists always build.
		settings.Guard, _ = dialguard.New(dialguard.Settings{Deny: deny, OwnNumbers: []string{settings.OutboundNumber}})
	}
	return &Service{store: store, calls: calls, deny: deny, twilio: twilio, audit: auditor, log: log, settings: settings, now: time.Now}
}

// Actor names who asked for an action, for the audit trail: "api:<token
// name>" for the operator API, "agent" for the voice agent's tools.
type actorKey struct{}

// WithActor returns ctx carrying the actor recorded in audit events.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

func actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok {
		return a
	}
	return "agent"
}

// AddParticipant moves the caller's call (callSID) into conference
// conf_<callSID> unless it is already there, then dials target (E.164) in
// from the outbound number. It returns apperr codes: Invalid (bad SID or
// number), Forbidden (target on the deny list), NotFound (unknown call),
// Conflict (call ended), Unavailable (Twilio not configured), Upstream
// (Twilio refused; details are logged, never returned).
func (s *Service) AddParticipant(ctx context.Context, callSID, target string) error {
	if err := s.checkTarget(ctx, target); err != nil {
		return err
	}
	if err := s.checkCall(ctx, callSID); err != nil {
		return err
	}
	if err := s.checkOutbound(); err != nil {
		return err
	}
	ctx, cancel := handOverContext(ctx)
	defer cancel()
	name := NameFor(callSID)
	conf, err := s.store.EnsureConference(ctx, name, callSID, s.now())
	if err != nil {
		return err
	}
	if conf.Status == StatusCompleted {
		return apperr.New(apperr.Conflict, "conference has ended")
	}
	if !conf.CallerJoined {
		doc, err := joinTwiML(name, s.settings.EventsURL)
		if err != nil {
			return err
		}
		if err := s.handOver(ctx, callSID, doc); err != nil {
			return s.upstream(ctx, "move caller into conference", callSID, err, "Failed to add participant")
		}
		if err := s.store.MarkCallerJoined(ctx, name, s.now()); err != nil {
			return err
		}
		if err := s.store.UpsertParticipant(ctx, name, Participant{CallSID: callSID, Role: RoleCaller, Status: "joining"}, s.now()); err != nil {
			return err
		}
	}
	partSID, confSID, err := s.twilio.AddParticipant(ctx, name, s.settings.OutboundNumber, target, s.settings.EventsURL)
	if err != nil {
		return s.upstream(ctx, "add participant", callSID, err, "Failed to add participant")
	}
	if confSID != "" {
		if err := s.store.SetConferenceSID(ctx, name, confSID, s.now()); err != nil {
			return err
		}
	}
	if partSID != "" {
		if err := s.store.UpsertParticipant(ctx, name, Participant{CallSID: partSID, Number: target, Role: RoleTarget, Status: "dialing"}, s.now()); err != nil {
			return err
		}
	}
	s.record(ctx, "add_participant", callSID, target)
	return nil
}

// handOverTimeout bounds a transfer's Twilio requests once they no
// longer end with the request that asked for them.
const handOverTimeout = 30 * time.Second

// handOverContext detaches a transfer from its requester. Moving the
// caller ends the call's media stream, and with it the agent's tool call
// that may have asked for the move; the steps after it (dialling the
// target, recording the participants) must still run.
func handOverContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), handOverTimeout)
}

// handOver replaces the caller's call with doc (a conference join or a
// forward). The call is marked transferred first, because Twilio ends the
// media stream as soon as it applies doc and that end must not be taken
// for the end of the call; when Twilio refuses, the mark is taken back.
func (s *Service) handOver(ctx context.Context, callSID, doc string) error {
	if _, err := s.calls.EndCall(ctx, voice.CallEnd{CallSID: callSID, Reason: voice.EndTransferred, By: actorOf(ctx)}); err != nil {
		return err
	}
	err := s.twilio.UpdateCallTwiML(ctx, callSID, doc)
	if err != nil {
		if uerr := s.calls.ResumeCall(ctx, callSID); uerr != nil {
			s.log.Error("could not take back the transfer mark", "call_sid", callSID, "error", uerr)
		}
	}
	return err
}

// AddToConference is AddParticipant under the name the voice agent's tools
// use.
func (s *Service) AddToConference(ctx context.Context, callSID, target string) error {
	return s.AddParticipant(ctx, callSID, target)
}

// Forward replaces the caller's call (callSID) with a <Dial> to target,
// showing the outbound number as caller ID. Codes as for AddParticipant.
func (s *Service) Forward(ctx context.Context, callSID, target string) error {
	if err := s.checkTarget(ctx, target); err != nil {
		return err
	}
	if err := s.checkCall(ctx, callSID); err != nil {
		return err
	}
	if err := s.checkOutbound(); err != nil {
		return err
	}
	ctx, cancel := handOverContext(ctx)
	defer cancel()
	doc, err := forwardTwiML(target, s.settings.OutboundNumber)
	if err != nil {
		return err
	}
	if err := s.handOver(ctx, callSID, doc); err != nil {
		return s.upstream(ctx, "forward call", callSID, err, "Failed to forward call")
	}
	s.record(ctx, "forward", callSID, target)
	return nil
}

// EndConference ends conference name (status completed), hanging up every
// participant. Unknown or not-live conferences are apperr.NotFound, also
// when Twilio is not configured (apperr.Unavailable only for a real one).
func (s *Service) EndConference(ctx context.Context, name string) error {
	callSID, err := CallSIDOf(name)
	if err != nil {
		return err
	}
	conf, err := s.store.GetConference(ctx, name)
	if err != nil {
		return err
	}
	if conf.Status == StatusCompleted {
		return apperr.New(apperr.NotFound, "conference has already ended")
	}
	if s.twilio == nil {
		return errNotConfigured
	}
	sid := conf.ConferenceSID
	if sid == "" {
		if sid, err = s.twilio.FindLiveConference(ctx, name); err != nil {
			return s.upstream(ctx, "find conference", callSID, err, "Failed to end conference")
		}
		if sid == "" {
			return apperr.New(apperr.NotFound, "conference is not live")
		}
	}
	if err := s.twilio.EndConference(ctx, sid); err != nil {
		if isNotFound(err) {
			_ = s.store.SetConferenceStatus(ctx, name, StatusCompleted, s.now())
			return apperr.New(apperr.NotFound, "conference is not live")
		}
		return s.upstream(ctx, "end conference", callSID, err, "Failed to end conference")
	}
	if err := s.store.SetConferenceStatus(ctx, name, StatusCompleted, s.now()); err != nil {
		return err
	}
	s.record(ctx, "end_conference", callSID, "")
	return nil
}

// EndCall hangs up the caller's call.
func (s *Service) EndCall(ctx context.Context, callSID string) error {
	if err := s.checkCall(ctx, callSID); err != nil {
		return err
	}
	if err := s.twilio.HangUp(ctx, callSID); err != nil {
		return s.upstream(ctx, "hang up", callSID, err, "Failed to end call")
	}
	s.record(ctx, "end_call", callSID, "")
	return nil
}

// SayAndHangup tells the caller message (spoken by Twilio), then hangs up.
func (s *Service) SayAndHangup(ctx context.Context, callSID, message string) error {
	if err := s.checkCall(ctx, callSID); err != nil {
		return err
	}
	doc, err := sayHangupTwiML(message)
	if err != nil {
		return err
	}
	if err := s.twilio.UpdateCallTwiML(ctx, callSID, doc); err != nil {
		return s.upstream(ctx, "say and hang up", callSID, err, "Failed to end call")
	}
	s.record(ctx, "end_call", callSID, "")
	return nil
}

// Get returns what is stored about conference name.
func (s *Service) Get(ctx context.Context, name string) (Conference, error) {
	if _, err := CallSIDOf(name); err != nil {
		return Conference{}, err
	}
	return s.store.GetConference(ctx, name)
}

var errNotConfigured = apperr.New(apperr.Unavailable, "Twilio is not configured")

// checkTarget is the one gate every dialled number passes, from the
// operator API and from the agent's tools alike: strict E.164, then the
// toll-fraud guard (own numbers, deny entries and prefixes, high-cost
// prefixes and number types, allowed countries), then the stored deny
// list. A refusal is audited with its reason.
func (s *Service) checkTarget(ctx context.Context, target string) error {
	if !phone.Valid(target) {
		return apperr.New(apperr.Invalid, "targetNumber must be an E.164 number such as +15551234567")
	}
	reason := s.settings.Guard.Check(target)
	if reason == "" && s.settings.Assigned != nil {
		assigned, err := s.settings.Assigned(ctx, target)
		if err != nil {
			return err
		}
		if assigned {
			reason = dialguard.ReasonOwnNumber
		}
	}
	if reason == "" {
		blocked, err := s.deny.Blocked(ctx, target)
		if err != nil {
			return err
		}
		if blocked {
			reason = dialguard.ReasonDenyList
		}
	}
	if reason == "" {
		return nil
	}
	s.audit.Record(audit.Event{Type: audit.TypeConferenceAction, Severity: audit.Warning, Actor: actorOf(ctx),
		Detail: map[string]any{"action": "dial_refused", "target": redact.Phone(target), "reason": reason}})
	s.log.Warn("dial refused", "target", redact.Phone(target), "reason", reason)
	if reason == dialguard.ReasonInvalid { // not a number at all: a bad request
		return apperr.New(apperr.Invalid, dialRefusedMessage[reason])
	}
	return apperr.New(apperr.Forbidden, dialRefusedMessage[reason])
}

// dialRefusedMessage is what the operator API says for each refusal.
var dialRefusedMessage = map[string]string{
	dialguard.ReasonInvalid:   "targetNumber must be an E.164 number of a length its country's plan allows, such as +15551234567",
	dialguard.ReasonOwnNumber: "targetNumber is one of this service's own numbers",
	dialguard.ReasonDenyList:  "targetNumber is on the deny list",
	dialguard.ReasonHighCost:  "targetNumber is in a high-cost range (DIAL_HIGH_COST_PREFIXES)",
	dialguard.ReasonType:      "targetNumber is a premium-rate or shared-cost number",
	dialguard.ReasonCountry:   "targetNumber is in a country not in DIAL_ALLOWED_COUNTRIES",
}

// checkCall refuses calls voiceagent did not answer, and ended ones, so
// the API can never act on other calls of the account; then it requires
// Twilio. The lookup comes first: an unknown call is apperr.NotFound
// whether or not Twilio is configured.
func (s *Service) checkCall(ctx context.Context, callSID string) error {
	if !ValidCallSID(callSID) {
		return apperr.New(apperr.Invalid, "callSid must be CA followed by 32 hex characters")
	}
	known, ended, err := s.calls.CallState(ctx, callSID)
	if err != nil {
		return err
	}
	if !known {
		return apperr.New(apperr.NotFound, "unknown call")
	}
	if ended {
		return apperr.New(apperr.Conflict, "call has ended")
	}
	answered, err := s.store.CallAnswered(ctx, callSID)
	if err != nil {
		return err
	}
	if !answered {
		return apperr.New(apperr.Conflict, "the call was refused; only answered calls can be acted on")
	}
	if s.twilio == nil {
		return errNotConfigured
	}
	return nil
}

// checkOutbound requires a caller ID to dial from; it runs after
// checkCall, so an unknown call is still apperr.NotFound.
func (s *Service) checkOutbound() error {
	if s.settings.OutboundNumber == "" {
		return apperr.New(apperr.Unavailable, "TWILIO_OUTBOUND_NUMBER is not configured")
	}
	return nil
}

// upstream logs a Twilio failure in full (numbers masked) and returns the
// generic client message.
func (s *Service) upstream(ctx context.Context, op, callSID string, err error, msg string) error {
	s.log.ErrorContext(ctx, "twilio call failed", "op", op, "call_sid", callSID, "err", redact.Text(err.Error()))
	s.audit.Record(audit.Event{Type: audit.TypeConferenceAction, Severity: audit.Warning, Actor: actorOf(ctx), CallSID: callSID,
		Detail: map[string]any{"action": op, "result": "twilio_error"}})
	return apperr.New(apperr.Upstream, msg)
}

func (s *Service) record(ctx context.Context, action, callSID, target string) {
	d := map[string]any{"action": action, "result": "ok"}
	if target != "" {
		d["target"] = redact.Phone(target)
	}
	s.audit.Record(audit.Event{Type: audit.TypeConferenceAction, Actor: actorOf(ctx), CallSID: callSID, Detail: d})
}

// isNotFound reports whether err says a Twilio resource does not exist.
func isNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}
