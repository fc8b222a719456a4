package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/voiceagent/voiceagent/internal/audit"
)

// bearerAuth guards /api: "Authorization: Bearer <token>" compared in
// constant time against every configured token (two during a rotation).
func (s *Server) bearerAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, msg := s.checkBearer(r.Header.Get("Authorization"))
		if name == "" {
			s.authFailed(w, r, "api", msg)
			return
		}
		s.log.Debug("auth-success", "request_id", RequestID(r.Context()), "token", name)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyTokenName, name)))
	})
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
// (masked IP, path, never the token).
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request, surface, msg string) {
	s.Metrics.AuthFailures.WithLabelValues(surface).Inc()
	s.Audit.Record(audit.Event{
		Type:     audit.TypeAuthFailure,
		Severity: audit.Warning,
		RemoteIP: ClientIP(r.Context()),
		Detail:   map[string]any{"surface": surface, "path": r.URL.Path, "reason": msg},
	})
	w.Header().Set("WWW-Authenticate", `Bearer realm="voiceagent"`)
	writeJSON(w, http.StatusUnauthorized, errorBody{Error: errorDetail{Code: "unauthenticated", Message: msg}})
}
