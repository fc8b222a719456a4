// Package conference moves a caller into a conference, dials people in,
// forwards and ends calls, and keeps what Twilio reports about each
// conference. Twilio is reached through the Twilio interface (implemented
// by internal/twilioapi); storage through Store (internal/store).
package conference

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// NamePrefix starts every conference name: conf_<CallSid of the caller>.
// Names hold no personal data, as Twilio asks.
const NamePrefix = "conf_"

var callSIDPattern = regexp.MustCompile(`^CA[0-9a-f]{32}$`)

// ValidCallSID reports whether s is a call SID: CA and 32 lowercase hex.
func ValidCallSID(s string) bool { return callSIDPattern.MatchString(s) }

// NameFor returns the conference name for the caller's call SID.
func NameFor(callSID string) string { return NamePrefix + callSID }

// CallSIDOf returns the caller's call SID from a conference name, or an
// apperr.Invalid error when name is not conf_<CallSid>.
func CallSIDOf(name string) (string, error) {
	sid, ok := strings.CutPrefix(name, NamePrefix)
	if !ok || !ValidCallSID(sid) {
		return "", apperr.New(apperr.Invalid, "conferenceName must be conf_ followed by a call SID (CA and 32 hex characters)")
	}
	return sid, nil
}

// Conference statuses as stored.
const (
	StatusCreated    = "created"     // row made, caller not yet moved
	StatusInProgress = "in-progress" // conference-start seen
	StatusCompleted  = "completed"   // ended through the API or conference-end seen
)

// Participant roles.
const (
	RoleCaller = "caller" // the call that reached voiceagent
	RoleTarget = "target" // a number dialled in
)

// Conference is what is stored about one conference.
type Conference struct {
	Name          string
	CallerCallSID string
	ConferenceSID string // CF SID once known (not shown to clients)
	Status        string
	CallerJoined  bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Participants  []Participant
	Events        []Event
}

// Participant is one call seen in a conference.
type Participant struct {
	CallSID   string
	Number    string // E.164 for dialled targets; empty for the caller
	Role      string
	Status    string // dialing, joined, left, ...
	UpdatedAt time.Time
}

// Store keeps conferences, participants and conference events.
type Store interface {
	// CallAnswered reports whether voiceagent answered the call (its
	// policy accepted it) rather than refusing it.
	CallAnswered(ctx context.Context, callSID string) (bool, error)
	// EnsureConference creates the conference row when missing and
	// returns the stored row.
	EnsureConference(ctx context.Context, name, callerCallSID string, now time.Time) (Conference, error)
	// GetConference returns the conference with its participants and
	// events (sequence order), or apperr.NotFound.
	GetConference(ctx context.Context, name string) (Conference, error)
	// MarkCallerJoined records that the caller's call was moved in.
	MarkCallerJoined(ctx context.Context, name string, now time.Time) error
	// SetConferenceSID records the CF SID when not known yet.
	SetConferenceSID(ctx context.Context, name, conferenceSID string, now time.Time) error
	// SetConferenceStatus sets the status unconditionally (API actions).
	SetConferenceStatus(ctx context.Context, name, status string, now time.Time) error
	// UpsertParticipant stores or refreshes a participant.
	UpsertParticipant(ctx context.Context, name string, p Participant, now time.Time) error
	// InsertEvent stores a status callback once and applies it to the
	// conference and participant state when its sequence number is newer
	// than what is stored. It reports whether the event was new.
	InsertEvent(ctx context.Context, ev Event, now time.Time) (bool, error)
}

// Calls is the part of the call records the service reads and changes
// (*voice.Service): the call records have one writer, and a hand-over
// is one of the ways a call ends for the agent.
type Calls interface {
	// CallState reports whether voiceagent has a record of the call and
	// whether it has ended.
	CallState(ctx context.Context, callSID string) (known, ended bool, err error)
	// EndCall with voice.EndTransferred marks the call as handed over
	// from the agent, so the end of its media stream no longer ends it.
	EndCall(ctx context.Context, e voice.CallEnd) (voice.EndResult, error)
	// ResumeCall takes the hand-over back (Twilio refused it).
	ResumeCall(ctx context.Context, callSID string) error
}

// DenyList reports whether a number is on the stored deny list
// (store.CallerStore).
type DenyList interface {
	Blocked(ctx context.Context, number string) (bool, error)
}

// Twilio is the REST calls the service makes (internal/twilioapi.Client).
// Errors that carry a NotFound() bool method reporting true mean the
// Twilio resource does not exist.
type Twilio interface {
	UpdateCallTwiML(ctx context.Context, callSID, twiml string) error
	HangUp(ctx context.Context, callSID string) error
	AddParticipant(ctx context.Context, conference, from, to, statusCallback string) (callSID, conferenceSID string, err error)
	EndConference(ctx context.Context, conferenceSID string) error
	FindLiveConference(ctx context.Context, friendlyName string) (string, error)
}

// Auditor records audit events (*audit.Recorder).
type Auditor interface {
	Record(ev audit.Event)
}
