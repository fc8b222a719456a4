package conference

import (
	"context"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

// Event is one conference status callback from Twilio.
type Event struct {
	ConferenceSID  string
	Name           string // FriendlyName
	Sequence       int64  // SequenceNumber, per conference
	Type           string // StatusCallbackEvent, e.g. participant-join
	CallSID        string // participant events
	IdempotencyKey string // I-Twilio-Idempotency-Token ("" when absent)
	Params         map[string]string
	At             time.Time // Timestamp (zero when absent or unparsable)
}

// eventParams are the callback parameters kept with an event: the ones
// that describe the conference, never numbers or account data.
var eventParams = []string{
	"StatusCallbackEvent", "SequenceNumber", "FriendlyName", "CallSid", "Timestamp",
	"Muted", "Hold", "Coaching", "EndConferenceOnExit", "StartConferenceOnEnter",
	"ParticipantCallStatus", "ReasonParticipantLeft", "ReasonConferenceEnded",
	"CallSidEndingConference", "ReasonAnnouncementFailed",
}

var (
	confSIDPattern   = regexp.MustCompile(`^CF[0-9a-f]{32}$`)
	eventTypePattern = regexp.MustCompile(`^[a-z][a-z-]{1,40}$`)
	// safeParam bounds stored parameter values: Twilio's are short tokens.
	safeParam = regexp.MustCompile(`^[A-Za-z0-9 _.:,+-]{0,200}$`)
)

// ParseEvent reads a conference status callback's form parameters.
// Missing or malformed identifying fields are apperr.Invalid.
func ParseEvent(form url.Values, idempotencyKey string) (Event, error) {
	ev := Event{
		ConferenceSID:  form.Get("ConferenceSid"),
		Name:           form.Get("FriendlyName"),
		Type:           form.Get("StatusCallbackEvent"),
		CallSID:        form.Get("CallSid"),
		IdempotencyKey: idempotencyKey,
		Params:         map[string]string{},
	}
	if !confSIDPattern.MatchString(ev.ConferenceSID) {
		return Event{}, apperr.New(apperr.Invalid, "ConferenceSid is missing or malformed")
	}
	if !eventTypePattern.MatchString(ev.Type) {
		return Event{}, apperr.New(apperr.Invalid, "StatusCallbackEvent is missing or malformed")
	}
	seq, err := strconv.ParseInt(form.Get("SequenceNumber"), 10, 64)
	if err != nil || seq < 0 {
		return Event{}, apperr.New(apperr.Invalid, "SequenceNumber is missing or malformed")
	}
	ev.Sequence = seq
	if ev.CallSID != "" && !ValidCallSID(ev.CallSID) {
		return Event{}, apperr.New(apperr.Invalid, "CallSid is malformed")
	}
	if len(ev.Name) > 128 {
		return Event{}, apperr.New(apperr.Invalid, "FriendlyName is too long")
	}
	if len(idempotencyKey) > 200 {
		ev.IdempotencyKey = idempotencyKey[:200]
	}
	for _, k := range eventParams {
		if v := form.Get(k); v != "" && safeParam.MatchString(v) {
			ev.Params[k] = v
		}
	}
	if ts := form.Get("Timestamp"); ts != "" {
		if t, err := time.Parse(time.RFC1123Z, ts); err == nil {
			ev.At = t.UTC()
		}
	}
	return ev, nil
}

// RecordEvent stores a status callback once (deduplicated on ConferenceSid
// + SequenceNumber and on the idempotency token) and applies it to the
// stored conference and participant state when it is newer than what was
// applied before, so out-of-order arrival converges. It reports whether the
// event was new.
func (s *Service) RecordEvent(ctx context.Context, ev Event) (bool, error) {
	return s.store.InsertEvent(ctx, ev, s.now())
}
