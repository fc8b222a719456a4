package httpapi

import (
	"net/http"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/conference"
)

// conferenceIdempotencyHeader is the token Twilio repeats on retries of
// a webhook.
const conferenceIdempotencyHeader = "I-Twilio-Idempotency-Token"

// handleConferenceEvents is POST /conference/events: a Twilio conference
// status callback (signature checked by the Twilio middleware before this
// runs). Each event is stored once (ConferenceSid + SequenceNumber, and
// the idempotency token); duplicates and out-of-order arrivals are
// answered 204 like new ones, so Twilio never retries needlessly.
func (s *Server) handleConferenceEvents(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeTwiMLError(w, r, apperr.Wrap(err, apperr.Invalid, "malformed form body"))
		return
	}
	ev, err := conference.ParseEvent(r.PostForm, r.Header.Get(conferenceIdempotencyHeader))
	if err != nil {
		s.writeTwiMLError(w, r, err)
		return
	}
	isNew, err := s.Conferences.RecordEvent(r.Context(), ev)
	if err != nil {
		s.writeTwiMLError(w, r, err)
		return
	}
	s.logger(r).Debug("conference event", "event", ev.Type, "call_sid", ev.CallSID, "sequence", ev.Sequence, "new", isNew)
	w.WriteHeader(http.StatusNoContent)
}
