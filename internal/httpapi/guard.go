package httpapi

import (
	"net/http"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

// A route whose service is not wired (a nil field in Deps: tests that
// build a bare server, or a feature left unconfigured) answers 503
// unavailable. routes.go names the guard on each route, after its
// authentication and scope, so handlers never check for a nil service.

// requires lets requests through when ok (decided once, when the routes
// are built); otherwise it answers 503 with message in the JSON error
// shape.
func (s *Server) requires(ok bool, message string) func(http.Handler) http.Handler {
	return s.guard(ok, message, s.writeError)
}

// requiresTwiML is requires for Twilio's webhooks: the 503 is answered
// with TwiML.
func (s *Server) requiresTwiML(ok bool, message string) func(http.Handler) http.Handler {
	return s.guard(ok, message, s.writeTwiMLError)
}

func (s *Server) guard(ok bool, message string, answer func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if ok {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			answer(w, r, apperr.New(apperr.Unavailable, message))
		})
	}
}

// upgradeError answers a failed WebSocket handshake (gorilla's
// Upgrader.Error) through writeError: a request that is not a WebSocket
// upgrade is 400, a refused Origin 403; the library's reason is kept as
// the cause (logged for a 5xx) and never sent.
func (s *Server) upgradeError(w http.ResponseWriter, r *http.Request, status int, reason error) {
	code, msg := apperr.Invalid, "not a WebSocket upgrade"
	switch {
	case status == http.StatusForbidden:
		code, msg = apperr.Forbidden, "origin not allowed"
	case status == http.StatusMethodNotAllowed:
		code, msg = apperr.MethodNotAllowed, "method not allowed"
	case status >= 500:
		code, msg = apperr.Internal, "internal error"
	}
	s.writeError(w, r, apperr.Wrap(reason, code, msg))
}
