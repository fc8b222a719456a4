// Package voice is the inbound-call domain: the always-accept policy with
// its caller controls (deny and allow lists, blocked countries, caller-name
// policy, throttling, capacity), the TwiML each decision answers with, the
// call records, and the one-time media-stream tokens.
//
// Contracts used by other packages:
//
//   - The media-stream upgrade redeems the token of the <Stream> URL with
//     (*Service).RedeemStreamToken: valid, unused and unexpired marks it used
//     and returns the CallSid it was issued for; anything else is an apperr
//     Forbidden error.
//   - The relay reports the call lifecycle with MarkStreamStarted and
//     EndCall; ending a call frees its capacity slot.
//   - EndCall is the one way a call's end is recorded, with its EndReason
//     (calls.end_reason): the first end wins and only its reporter
//     announces it (EndResult.Announce). The status callback (Status)
//     records EndCallerHangup for a final status nobody else ended first
//     (also a caller who hung up before the stream, and an outbound call
//     that was busy, not answered, failed or canceled); the relay maps its
//     close reasons (see relay's endReason); the conference hand-over
//     reports EndTransferred (ResumeCall takes it back when Twilio
//     refuses), after which the record ends with Twilio's final status
//     but keeps the reason; a refused or busy admission is stored with
//     EndRefused. An operator's end (POST /api/calls/{sid}/end) reports
//     EndOperator with By "api:<token name>", and outbound answering-
//     machine detection EndMachine.
//   - The conference service reads CallState and hands calls over through
//     EndCall/ResumeCall; the deny list it and the relay check is the
//     caller store's (store.CallerStore.Blocked).
//   - An optional Prewarmer is told the CallSid when /voice/accept answers,
//     so the model session can be opened before the stream arrives.
//   - Blocked reports whether a number is on the deny list (the agent's
//     dialling tools refuse such numbers).
package voice

import (
	"context"
	"regexp"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
)

// Decision is what the policy did with a call.
type Decision string

// Decisions. Each has its own TwiML (see twiml.go).
const (
	Accept Decision = "accept" // <Gather> then <Redirect> to /voice/accept
	Reject Decision = "reject" // <Reject/>: never answered, never billed
	Hangup Decision = "hangup" // <Say>This number is not authorized.</Say><Hangup/>
	Busy   Decision = "busy"   // <Reject reason="busy"/>
)

// Reasons recorded with a decision.
const (
	ReasonNone            = ""
	ReasonWrongNumber     = "wrong_number"    // To is not TWILIO_PHONE_NUMBER
	ReasonBlockedNumber   = "blocked_number"  // deny list
	ReasonNotAllowed      = "not_allowed"     // allow list set and caller not on it
	ReasonBlockedCountry  = "blocked_country" // FromCountry in BLOCKED_COUNTRIES
	ReasonCallerUnknown   = "caller_unknown"  // CALLER_NAME_POLICY=block-unknown
	ReasonCallerNotBiz    = "caller_not_business"
	ReasonThrottledCaller = "throttled_caller" // CALLS_PER_MINUTE for this caller
	ReasonThrottledGlobal = "throttled_global" // CALLS_PER_MINUTE for all callers
	ReasonCapacity        = "capacity"         // MAX_CONCURRENT_CALLS reached
	ReasonDraining        = "draining"         // the server is shutting down
)

// Call statuses Twilio reports that end a call.
var finalStatuses = map[string]bool{"completed": true, "busy": true, "failed": true, "no-answer": true, "canceled": true}

// FinalStatus reports whether a Twilio CallStatus ends the call.
func FinalStatus(s string) bool { return finalStatuses[s] }

// Call is one incoming call's record. TwiML is the answer given to
// /voice/incoming, replayed unchanged when Twilio retries the webhook.
type Call struct {
	CallSID        string
	AccountSID     string
	From           string // E.164, or "" when the caller is anonymous
	To             string
	FromCountry    string
	CallerName     string
	Decision       Decision
	Reason         string
	Status         string
	Active         bool // holds a capacity slot
	DurationSec    *int64
	TwiML          string
	IdempotencyKey string // I-Twilio-Idempotency-Token of the first delivery
	CreatedAt      time.Time
	AnsweredAt     *time.Time // the media stream started
	EndedAt        *time.Time
	AgentID        string    // the agent that answered or placed the call ("" = the default agent)
	Direction      Direction // inbound unless placed through the API
	PlacedBy       string    // the API token name that placed an outbound call
	EndReason      EndReason // "" while the call is live
	Context        string    // the operator's per-call addition to the agent's instructions
}

// Direction says who placed a call.
type Direction string

// Directions.
const (
	DirectionInbound  Direction = "inbound"  // Twilio called /voice/incoming
	DirectionOutbound Direction = "outbound" // placed with POST /api/calls
)

// EndReason says why a call ended, as recorded with the call and reported
// by the call-details API and webhooks.
type EndReason string

// End reasons.
const (
	EndCallerHangup EndReason = "caller_hangup" // the caller hung up (or the stream closed from Twilio's side)
	EndAgentEnded   EndReason = "agent_ended"   // the agent ended the call (end_call tool)
	EndTransferred  EndReason = "transferred"   // handed to a conference or a forward; the record ends with Twilio's final status
	EndMaxDuration  EndReason = "max_duration"  // the call reached its duration limit
	EndIdle         EndReason = "idle"          // nobody spoke for the idle limit
	EndMachine      EndReason = "machine"       // an outbound call answered by a machine with machineDetection=hangup
	EndModelError   EndReason = "model_error"   // the model endpoint failed, closed or broke the protocol
	EndOperator     EndReason = "operator"      // ended through the API
	EndRefused      EndReason = "refused"       // never answered: rejected, busy or at capacity
)

// Inbound is what the policy reads from a Twilio voice webhook. The HTTP
// layer fills it from the signed form; nothing here is trusted further
// than its shape (Normalize checks that).
type Inbound struct {
	CallSID        string
	AccountSID     string
	From           string
	To             string
	FromCountry    string
	CallerName     string
	CallStatus     string
	IdempotencyKey string

	agentID string // the agent that answers To, set by decide
}

var (
	callSIDPattern = regexp.MustCompile(`^CA[0-9a-fA-F]{32}$`)
	acctSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)
	statusPattern  = regexp.MustCompile(`^[a-z][a-z-]{0,31}$`)
	tokenPattern   = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
)

// ValidCallSID reports whether s has the shape of a Twilio CallSid.
func ValidCallSID(s string) bool { return callSIDPattern.MatchString(s) }

// StatusUpdate is one call status callback.
type StatusUpdate struct {
	CallSID     string
	Status      string
	DurationSec *int64
	Sequence    int64 // SequenceNumber; -1 when absent
	At          time.Time
	// Reason is recorded as the end reason when this status ends the
	// call and none was recorded before (set by Status, not by Twilio).
	Reason EndReason
}

// StreamToken is the stored form of a one-time media-stream token: only
// the SHA-256 of the token is kept.
type StreamToken struct {
	Hash      string
	CallSID   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// Capacity asks AdmitCall to hold an accepted call to MAX_CONCURRENT_CALLS:
// the calls holding a slot are counted (the store's counter), and Overflow
// is stored instead when Max are already held. A slot that no status
// callback will free (a call that never started its stream, a stream
// longer than the longest call) is freed by the SlotSweeper, not by the
// admission that finds the cap full, so a full cap answers busy as cheaply
// as an admission.
type Capacity struct {
	Max      int
	Overflow Call
}

// CallStore keeps call records. Implementations translate storage errors
// to apperr codes (no row: NotFound).
type CallStore interface {
	// FindCall returns the call with this CallSid, or the call first
	// delivered with this idempotency key ("" matches nothing).
	FindCall(ctx context.Context, callSID, idempotencyKey string) (Call, error)
	// AdmitCall stores c unless FindCall would find it, atomically with the
	// capacity check when capacity is non-nil and c is accepted (across
	// instances on PostgreSQL). It returns the stored row and whether it
	// was created now.
	AdmitCall(ctx context.Context, c Call, capacity *Capacity) (Call, bool, error)
	// UpdateCallStatus applies a status callback unless a later one
	// (higher sequence) was applied; a final status ends the call and frees
	// its slot. ended reports that this callback ended the call (it had no
	// end recorded before). Unknown calls are NotFound.
	UpdateCallStatus(ctx context.Context, u StatusUpdate) (ended bool, err error)
	// MarkStreamStarted records when the media stream started.
	MarkStreamStarted(ctx context.Context, callSID string, at time.Time) error
	// EndCall records the end (e.Reason unless a reason is recorded
	// already) and frees the call's slot. ended is false when the call
	// had already ended; a transferred call is Conflict, an unknown one
	// NotFound.
	EndCall(ctx context.Context, e CallEnd) (ended bool, err error)
	// SetTransferred marks the call handed over (on, with the end reason
	// EndTransferred unless one is recorded) or takes the mark back (off,
	// withdrawing that reason while the call is live).
	SetTransferred(ctx context.Context, callSID string, on bool, at time.Time) error
	// SetEndReason records why a live, not transferred call is about to
	// end unless a reason is recorded already.
	SetEndReason(ctx context.Context, callSID string, reason EndReason, at time.Time) error
	// CallState reports whether the call is recorded and whether it ended.
	CallState(ctx context.Context, callSID string) (known, ended bool, err error)
	// ClaimStreamSlot reports whether the accepted, live call holds a
	// capacity slot as its stream starts, re-admitting it under capacity
	// when its pending slot was freed as stale.
	ClaimStreamSlot(ctx context.Context, callSID string, capacity *Capacity, at time.Time) (bool, error)
	SlotStore
}

// TokenStore keeps one-time media-stream tokens (hashes only).
type TokenStore interface {
	// PutStreamToken stores t as the call's token, replacing an unused one
	// (a retried /voice/accept gets a fresh token and the old one dies). It
	// is Conflict when the call's token was already used, Forbidden when
	// the call has ended.
	PutStreamToken(ctx context.Context, t StreamToken) error
	// UseStreamToken marks the token with this hash used and returns its
	// CallSid, provided it is unused, not expired at now and its call has
	// not ended; otherwise NotFound.
	UseStreamToken(ctx context.Context, hash string, now time.Time) (string, error)
	// RevokeStreamTokens deletes the call's unused tokens.
	RevokeStreamTokens(ctx context.Context, callSID string) error
}

// Auditor records audit events without blocking (audit.Recorder).
type Auditor interface {
	Record(ev audit.Event)
}

// Prewarmer opens the model session for a call before its media stream
// arrives (the relay). Prewarm must not block.
type Prewarmer interface {
	Prewarm(callSID string)
}

// CallerNames looks up a number's registered caller name (Twilio Lookup
// v2 caller_name). callerType is "BUSINESS", "CONSUMER" or "".
type CallerNames interface {
	LookupCallerName(ctx context.Context, number string) (name, callerType string, err error)
}

// Throttle is the per-request rate check the HTTP layer hands to Incoming
// (httprate counters keyed on the caller number, not the IP: every webhook
// comes from Twilio). It returns ReasonThrottledCaller,
// ReasonThrottledGlobal or "" and counts the call when it is let through.
type Throttle interface {
	Throttled(caller string) string
}
