package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// bearerAuth guards /api: "Authorization: Bearer <token>" compared in
// constant time against every configured token (two during a rotation).
// A client IP with more than AUTH_FAILURE_LIMIT failures in 15 minutes is
// refused 429 for 15 minutes, even with a right token.
func (s *Server) bearerAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := s.authorize(w, r, "api", func() (string, string) { return s.checkBearer(r.Header.Get("Authorization")) })
		if !ok {
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyTokenName, name)))
	})
}

// authorize applies the lockout around check (which returns the token
// name, or "" and the client message) and answers 429 or 401 itself when
// it fails; surface labels the failure ("api", "logs"). Every route that
// takes the bearer token goes through here, however the token arrives.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, surface string, check func() (name, msg string)) (string, bool) {
	ip := ClientIP(r.Context())
	if locked, until := s.lockout.locked(ip); locked {
		s.lockedOut(w, r, until)
		return "", false
	}
	name, msg := check()
	if name == "" {
		if lockedNow, n := s.lockout.fail(ip); lockedNow {
			s.Audit.Record(audit.Event{
				Type:     audit.TypeSecurityAlert,
				Severity: audit.Warning,
				RemoteIP: ip,
				Detail:   map[string]any{"alert": "auth_lockout", "failures": n, "window": lockoutWindow.String(), "path": redact.Text(r.URL.Path)},
			})
			s.log.Warn("auth-lockout", "request_id", RequestID(r.Context()), "remote_ip", redact.IP(ip), "failures", n)
		}
		s.authFailed(w, r, surface, msg)
		return "", false
	}
	s.log.Info("auth-success", "request_id", RequestID(r.Context()), "token", name)
	return name, true
}

// lockedOut answers 429 to a locked-out client IP.
func (s *Server) lockedOut(w http.ResponseWriter, r *http.Request, until time.Time) {
	secs := int(time.Until(until).Seconds()) + 1
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.log.Debug("auth-locked-out", "request_id", RequestID(r.Context()), "remote_ip", redact.IP(ClientIP(r.Context())))
	writeJSON(w, http.StatusTooManyRequests, errorBody{Error: errorDetail{Code: "rate_limited", Message: "Too many failed authentication attempts; try again later"}})
}

// checkBearer returns the matching token's name, or "" and the client
// message for the failure.
func (s *Server) checkBearer(header string) (name, msg string) {
	const prefix = "Bearer "
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return "", "Missing Bearer token"
	}
	return s.matchToken(strings.TrimSpace(header[len(prefix):]))
}

// matchToken compares hashes so the comparison time depends on neither the
// token's length nor its content; every configured token is compared.
func (s *Server) matchToken(token string) (name, msg string) {
	if token == "" {
		return "", "Missing Bearer token"
	}
	got := sha256.Sum256([]byte(token))
	for _, t := range s.cfg.BearerTokens {
		want := sha256.Sum256([]byte(t.Value))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 && name == "" {
			name = t.Name
		}
	}
	if name == "" {
		return "", "Invalid token"
	}
	return name, ""
}

// authFailed answers 401 with WWW-Authenticate and audits the failure
// (masked IP, path with any phone number masked, never the token).
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request, surface, msg string) {
	s.Metrics.AuthFailures.WithLabelValues(surface).Inc()
	s.Audit.Record(audit.Event{
		Type:     audit.TypeAuthFailure,
		Severity: audit.Warning,
		RemoteIP: ClientIP(r.Context()),
		Detail:   map[string]any{"surface": surface, "path": redact.Text(r.URL.Path), "reason": msg},
	})
	w.Header().Set("WWW-Authenticate", `Bearer realm="voiceagent"`)
	writeJSON(w, http.StatusUnauthorized, errorBody{Error: errorDetail{Code: "unauthenticated", Message: msg}})
}
