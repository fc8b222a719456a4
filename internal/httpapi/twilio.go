package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// twilioMaxBody bounds a Twilio webhook body; real ones are a few KiB.
const twilioMaxBody = 64 << 10

// TwilioAuth is the signature check for every Twilio-facing route (see
// (*Server).twilioAuth); exported so other routers can reuse it.
func (s *Server) TwilioAuth(next http.Handler) http.Handler { return s.twilioAuth(next) }

// twilioAuth checks X-Twilio-Signature over the URL Twilio called (rebuilt
// from PUBLIC_URL and the raw request URI) and the raw body, through
// twilio-go's RequestValidator. Missing header: 401; wrong signature: 403.
// Both answer a short TwiML body, are audited with the masked IP and say
// nothing about why. The body is read once (bounded) and restored for the
// handler. TWILIO_VALIDATE=false (development only) skips the check.
func (s *Server) twilioAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.refusalLimited(w, r, "twilio", "twilio", redact.Text(r.URL.Path)) {
			s.writeTwiMLError(w, r, apperr.New(apperr.RateLimited, "too many refused requests; try again later"))
			return
		}
		limit := int64(twilioMaxBody)
		if s.cfg.MaxBodyBytes < limit {
			limit = s.cfg.MaxBodyBytes
		}
		if r.ContentLength > limit {
			s.twilioRefused(w, r, apperr.TooLarge, "too_large")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				s.twilioRefused(w, r, apperr.TooLarge, "too_large")
				return
			}
			s.twilioRefused(w, r, apperr.Invalid, "bad_body")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !s.cfg.TwilioValidate {
			next.ServeHTTP(w, r)
			return
		}
		sig := r.Header.Get("X-Twilio-Signature")
		if sig == "" {
			s.twilioRefused(w, r, apperr.Unauthenticated, "missing_signature")
			return
		}
		v := s.twilioSig
		if v == nil {
			if s.twilioRefused(w, r, apperr.Forbidden, "not_configured") {
				s.log.Error("Twilio webhook refused: TWILIO_AUTH_TOKEN and PUBLIC_URL are needed to check signatures", "request_id", RequestID(r.Context()))
			}
			return
		}
		if !v.Valid(r.Method, r.RequestURI, body, sig) {
			s.twilioRefused(w, r, apperr.Forbidden, "bad_signature")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// twilioRefused answers a refused webhook (bad signature, unreadable
// body) and counts it: aggregated audit row and sampled log line
// (noteRefusal), reporting whether this one was written. The reason is
// recorded, never sent: the answer is code's status and an empty TwiML
// document.
func (s *Server) twilioRefused(w http.ResponseWriter, r *http.Request, code apperr.Code, reason string) bool {
	s.Metrics.AuthFailures.WithLabelValues("twilio").Inc()
	written := s.noteRefusal(r, "twilio", "twilio", redact.Text(r.URL.Path), reason)
	s.writeTwiMLError(w, r, apperr.New(code, "Twilio webhook refused"))
	return written
}

// writeTwiML answers a Twilio webhook.
func writeTwiML(w http.ResponseWriter, status int, doc string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, doc) //nolint:errcheck // Twilio went away
}
