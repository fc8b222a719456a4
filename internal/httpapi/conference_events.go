package httpapi

import (
	"net/http"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/conference"
)

// idempotencyHeader is the token Twilio repeats on retries of a webhook.
const idempotencyHeader = "I-Twilio-Idempotency-Token"

// handleConferenceEvents is POST /conference/events: a Twilio conference
// status callback (signature checked by the Twilio middleware before this
// runs). Each event is stored once (ConferenceSid + SequenceNumber, and
// the idempotency token); duplicates and out-of-order arrivals are
// answered 204 like new ones, so Twilio never retries needlessly.
func (s *Server) handleConferenceEvents(w http.ResponseWriter, r *http.Request) {
	if s.Conferences == nil {
		s.notConfigured(w, r, "conferences")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.confEventError(w, r, apperr.Wrap(err, apperr.Invalid, "malformed form body"))
		return
	}
	ev, err := conference.ParseEvent(r.PostForm, r.Header.Get(idempotencyHeader))
	if err != nil {
		s.confEventError(w, r, err)
		return
	}
	isNew, err := s.Conferences.RecordEvent(r.Context(), ev)
	if err != nil {
		s.confEventError(w, r, err)
		return
	}
	s.logger(r).Debug("conference event", "event", ev.Type, "call_sid", ev.CallSID, "sequence", ev.Sequence, "new", isNew)
	w.WriteHeader(http.StatusNoContent)
}

// confEventError answers a Twilio endpoint's failure with an empty TwiML
// document and the mapped status; the cause is logged, never sent.
func (s *Server) confEventError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(apperr.CodeOf(err))
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "twilio webhook failed", "request_id", RequestID(r.Context()), "path", r.URL.Path, "status", status, "err", err)
	} else {
		s.log.DebugContext(r.Context(), "twilio webhook refused", "request_id", RequestID(r.Context()), "path", r.URL.Path, "status", status, "reason", apperr.MessageOf(err))
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`)) //nolint:errcheck // the client went away
}
