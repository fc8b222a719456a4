package httpapi

import (
	"context"
	"net/http"

	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// principal is who a request authenticated as: a token's name and scopes.
type principal struct {
	name   string
	scopes []apitoken.Scope
}

// adminScopes are the scopes of INTERNAL_API_BEARER's tokens.
var adminScopes = []apitoken.Scope{apitoken.Admin}

type scopeKey struct{}

// withPrincipal puts the caller into the request context.
func withPrincipal(ctx context.Context, p principal) context.Context {
	ctx = context.WithValue(ctx, keyTokenName, p.name)
	return context.WithValue(ctx, scopeKey{}, p.scopes)
}

// Scopes returns the authenticated token's scopes (nil before bearer auth).
func Scopes(ctx context.Context) []apitoken.Scope {
	s, _ := ctx.Value(scopeKey{}).([]apitoken.Scope)
	return s
}

// need lets a request through only when its token holds scope (or admin);
// it runs after bearerAuth. routes.go names each route's scope with it,
// and api/openapi.yaml names the same scope per operation.
func (s *Server) need(scope apitoken.Scope) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := principal{name: TokenName(r.Context()), scopes: Scopes(r.Context())}
			if !s.allowed(w, r, "api", p, scope) {
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
	writeJSON(w, http.StatusForbidden, errorBody{Error: errorDetail{Code: "forbidden", Message: "token lacks scope " + string(scope)}})
	return false
}
