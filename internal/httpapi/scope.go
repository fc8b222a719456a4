package httpapi

import (
	"context"
	"net/http"

	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// principal is who a request authenticated as: a token's name and
// scopes. bearerAuth puts it into the request context (withPrincipal) and
// principalOf is the one way to read it back; actor names it in audit
// events.
type principal struct {
	name   string
	scopes []apitoken.Scope
}

// adminScopes are the scopes of INTERNAL_API_BEARER's tokens.
var adminScopes = []apitoken.Scope{apitoken.Admin}

type principalKey struct{}

// withPrincipal puts the caller into the request context.
func withPrincipal(ctx context.Context, p principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principalOf returns the caller bearer auth let through (the zero
// principal before it).
func principalOf(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// actor names the authenticated operator in audit events and service
// calls: "api:" and the token's name ("primary" or "next" for
// INTERNAL_API_BEARER, or a scoped token's name).
func actor(r *http.Request) string { return "api:" + principalOf(r.Context()).name }

// need lets a request through only when its token holds scope (or admin);
// it runs after bearerAuth. routes.go names each route's scope with it,
// and api/openapi.yaml names the same scope per operation.
func (s *Server) need(scope apitoken.Scope) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !s.allowed(w, r, "api", principalOf(r.Context()), scope) {
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// allowed reports whether p holds scope; when not, it answers 403
// forbidden naming the missing scope and audits the refusal (token name,
// masked IP and path; never the token), aggregated like the other
// refusals: one access_denied row per (client IP, surface, token, scope)
// per minute with detail.count, and the log line only with a row.
func (s *Server) allowed(w http.ResponseWriter, r *http.Request, surface string, p principal, scope apitoken.Scope) bool {
	if apitoken.HasScope(p.scopes, scope) {
		return true
	}
	if written, count := s.refusals.Note(audit.Refusal{
		Type:     audit.TypeAccessDenied,
		RemoteIP: bucketAddr(ClientIP(r.Context())),
		Surface:  surface,
		Reason:   "missing_scope:" + string(scope),
		Actor:    p.name,
		Path:     redact.Text(mediaLogPath(r.URL.Path)),
		Extra:    map[string]any{"scope": string(scope)},
	}); written {
		s.log.Info("access-denied", "request_id", RequestID(r.Context()), "token", p.name, "scope", string(scope), "count", count)
	}
	s.writeError(w, r, apperr.New(apperr.Forbidden, "token lacks scope "+string(scope)))
	return false
}
