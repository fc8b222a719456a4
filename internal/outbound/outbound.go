// Package outbound places calls for the operator API (POST /api/calls)
// and ends live calls on request (POST /api/calls/{callSid}/end). A call
// is placed only after every guard lets it through, in this order: a
// valid number (libphonenumber), not one of the service's own numbers,
// not denied or high-cost (internal/dialguard and the stored deny list),
// in an allowed country, outside quiet hours in every time zone of the
// callee, within the rate limits (counted in the database, so they hold
// across instances) and within MAX_CONCURRENT_CALLS (the same slots as
// incoming calls). Every attempt, placed or refused, is an audit row.
//
// The call is created through Twilio's REST API with the answering
// webhook (POST /voice/outbound) and the status callback; the call record
// (calls, direction 'outbound') carries the agent, the token name that
// placed it and the operator's context for the agent.
package outbound

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// Rate limits a RateError names.
const (
	LimitMinute      = "per_minute"      // OUTBOUND_CALLS_PER_MINUTE across the service
	LimitDestination = "per_destination" // one call per destination per DestinationWindow
	LimitDay         = "per_day"         // OUTBOUND_CALLS_PER_DAY
)

// DestinationWindow is how long after a call the same number may not be
// called again.
const DestinationWindow = 10 * time.Minute

// Limits are the outbound rate limits. Zero turns a limit off (tests).
type Limits struct {
	PerMinute         int
	PerDay            int
	PerDestination    int
	DestinationWindow time.Duration
}

// RateError is a refusal by a rate limit: apperr.RateLimited, with the
// time the limit has room again (the Retry-After header).
type RateError struct {
	Limit   string
	RetryAt time.Time
}

func (e *RateError) Error() string { return "outbound rate limit " + e.Limit }

// Unwrap makes the refusal an apperr.RateLimited with a client message.
func (e *RateError) Unwrap() error {
	msg := map[string]string{
		LimitMinute:      "too many outbound calls this minute",
		LimitDestination: "this number was called less than 10 minutes ago",
		LimitDay:         "the daily limit of outbound calls is reached",
	}[e.Limit]
	if msg == "" {
		msg = "outbound call rate limit reached"
	}
	return apperr.New(apperr.RateLimited, msg)
}

// RetryAfter is how long a client should wait after err, when err is a
// rate-limit refusal (at least one second).
func (s *Service) RetryAfter(err error) (time.Duration, bool) { return retryAfter(err, s.now()) }

func retryAfter(err error, now time.Time) (time.Duration, bool) {
	var re *RateError
	if !errors.As(err, &re) {
		return 0, false
	}
	d := re.RetryAt.Sub(now)
	if d < time.Second {
		d = time.Second
	}
	return d.Round(time.Second), true
}

// Store keeps the rate counters and the outbound steps of call records
// (internal/store).
type Store interface {
	// ReserveAttempt counts the attempts of each window and adds one for
	// destHash when all have room, atomically across instances; a full
	// window is a *RateError.
	ReserveAttempt(ctx context.Context, destHash string, l Limits, now time.Time) (id int64, err error)
	// ReleaseAttempt takes a reservation back (the call was not placed).
	ReleaseAttempt(ctx context.Context, id int64) error
	// AdmitOutbound stores c under capacity (the same slots as incoming
	// calls); false when the cap is full (nothing is kept).
	AdmitOutbound(ctx context.Context, c voice.Call, capacity *voice.Capacity) (admitted bool, err error)
	// ConfirmOutbound renames the record to Twilio's CallSid.
	ConfirmOutbound(ctx context.Context, provisional, callSID, status string, at time.Time) error
	// ForgetOutbound deletes a record whose call was never placed.
	ForgetOutbound(ctx context.Context, provisional string) error
}

// Dial is one call for Twilio to place.
type Dial struct {
	To, From string
	// AnswerURL is fetched (POST, signed) when the callee answers;
	// StatusURL receives the call's progress events.
	AnswerURL, StatusURL string
	// MachineDetection asks Twilio to tell a person from a machine
	// (AnsweredBy on the answering webhook).
	MachineDetection bool
}

// Telephony creates and ends calls (internal/twilioapi through
// internal/app).
type Telephony interface {
	CreateCall(ctx context.Context, d Dial) (callSID, status string, err error)
	HangUp(ctx context.Context, callSID string) error
}

// Agents says which agent answers for a service number, whether a number
// is assigned to an agent, and whether an agent exists (*agents.Service).
type Agents interface {
	AgentFor(ctx context.Context, number string) (agentID string, ok bool, err error)
	Assigned(ctx context.Context, number string) (bool, error)
	AgentExists(ctx context.Context, id string) (bool, error)
}

// Calls is what the service needs of the call records and their ends
// (*voice.Service).
type Calls interface {
	FindCall(ctx context.Context, callSID string) (voice.Call, error)
	// Blocked reports whether a number is on the stored deny list.
	Blocked(ctx context.Context, number string) (bool, error)
	// EndCall records the call's end with the reason (first end wins).
	EndCall(ctx context.Context, callSID string, reason voice.EndReason, by string) error
	// MarkEnding records the reason a call is about to end for (an
	// operator's hang-up in flight), so an end reported meanwhile by
	// someone else keeps it; undo takes it back when the hang-up failed.
	MarkEnding(ctx context.Context, callSID string, reason voice.EndReason, by string, undo bool) error
}

// Auditor records audit events without blocking (audit.Recorder).
type Auditor interface {
	Record(ev audit.Event)
}

// Settings configure the service.
type Settings struct {
	// DefaultFrom is the caller ID when a request names none
	// (TWILIO_OUTBOUND_NUMBER, else TWILIO_PHONE_NUMBER).
	DefaultFrom string
	// ServiceNumbers are TWILIO_PHONE_NUMBER and TWILIO_OUTBOUND_NUMBER;
	// numbers assigned to agents are service numbers too (Agents).
	ServiceNumbers []string
	// Guard checks the destination (DIAL_DENY_LIST, CALLER_BLACKLIST,
	// DIAL_HIGH_COST_PREFIXES, DIAL_ALLOWED_COUNTRIES, own numbers).
	Guard Guard
	// Quiet is OUTBOUND_QUIET_HOURS (nil: off).
	Quiet         *QuietHours
	Limits        Limits
	MaxConcurrent int // MAX_CONCURRENT_CALLS
	// AnswerURL and StatusURL are PUBLIC_URL + /voice/outbound and
	// /voice/status; empty (no PUBLIC_URL) refuses every call with 503.
	AnswerURL, StatusURL string
	// HashKey keys the destination hashes of the rate counters
	// (PRIVACY_HASH_KEY).
	HashKey string
}

// Guard is *dialguard.Guard.
type Guard interface {
	Check(number string) (reason string)
}

// Deps are the service's collaborators; Telephony may be nil (no REST
// credentials: every call is refused with 503).
type Deps struct {
	Store     Store
	Telephony Telephony
	Agents    Agents
	Calls     Calls
	Audit     Auditor
	Log       *slog.Logger
}

// Service places and ends calls. It is safe for concurrent use.
type Service struct {
	d   Deps
	s   Settings
	now func() time.Time
}

// New returns a service.
func New(d Deps, s Settings) *Service {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if s.Limits.PerDestination > 0 && s.Limits.DestinationWindow <= 0 {
		s.Limits.DestinationWindow = DestinationWindow
	}
	return &Service{d: d, s: s, now: time.Now}
}

// SetClock replaces the service's clock (tests of quiet hours).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// destHash is the keyed hash the rate counters keep instead of the
// number.
func (s *Service) destHash(number string) string {
	m := hmac.New(sha256.New, []byte(s.s.HashKey))
	m.Write([]byte("outbound-rate:" + number))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// provisionalSID names a call record until Twilio gives the call its
// CallSid: the CallSid shape, random, never one Twilio issued.
func provisionalSID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "CA" + hex.EncodeToString(b[:]), nil
}
