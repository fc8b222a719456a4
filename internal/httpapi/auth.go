package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// bearerAuth guards /api: "Authorization: Bearer <token>", either one of
// INTERNAL_API_BEARER's tokens (compared in constant time; admin) or a
// scoped token (internal/apitoken). The token's name and scopes go into
// the request context; routes then demand their scope with need.
func (s *Server) bearerAuth(next http.Handler) http.Handler { return s.bearerOn("api")(next) }

// bearerOn is bearerAuth for a surface: "api" behind /api's per-IP rate
// limit; any other surface ("metrics") gets the refusal throttle instead
// (see authorize).
func (s *Server) bearerOn(surface string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := s.authorize(w, r, surface, func() (principal, error) { return s.checkBearer(r.Context(), r.Header.Get("Authorization")) })
			if !ok {
				return
			}
			next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
		})
	}
}

// authorize applies the lockout around check (which returns the caller,
// or an apperr: Unauthenticated with the client message, anything else
// answered as it is) and answers 429, 401 or 503 itself when it fails;
// surface labels the failure ("api", "logs"). Every route that takes a
// bearer token goes through here, however the token arrives.
//
// A locked-out client address (bucket: the IPv4 address, or the IPv6 /64)
// is still served when its token is right: the tokens are too long to
// guess, so the lockout only has to stop guessing, and serving right
// tokens means nobody behind the same NAT or proxy can lock an operator
// out. Wrong tokens from a locked bucket get 429 and are not counted or
// audited again (the lockout's own alert covers them).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, surface string, check func() (principal, error)) (principal, bool) {
	ip := ClientIP(r.Context())
	bucket := ipBucket(ip)
	// /logs, /ready and /metrics take tokens outside /api and its per-IP
	// rate limit: there a client that keeps failing is answered 429 before
	// its token is looked up (the Twilio routes' refusal throttle).
	throttled := surface != "api"
	if throttled && s.refusalLimited(w, r, surface, "", redact.Text(r.URL.Path)) {
		s.writeError(w, r, errAuthLocked())
		return principal{}, false
	}
	locked, until := s.lockout.locked(bucket)
	p, err := check()
	if err != nil {
		if !apperr.Is(err, apperr.Unauthenticated) {
			s.writeError(w, r, err)
			return principal{}, false
		}
		if throttled {
			s.refusalLimit.fail(bucketAddr(ip))
		}
		if locked {
			s.lockedOut(w, r, until)
			return principal{}, false
		}
		if lockedNow, n := s.lockout.fail(bucket); lockedNow {
			s.Audit.Record(audit.Event{
				Type:     audit.TypeSecurityAlert,
				Severity: audit.Warning,
				RemoteIP: ip,
				Detail:   map[string]any{"alert": "auth_lockout", "failures": n, "window": lockoutWindow.String(), "path": redact.Text(r.URL.Path)},
			})
			s.log.Warn("auth-lockout", "request_id", RequestID(r.Context()), "remote_ip", redact.IP(ip), "failures", n)
		}
		s.authFailed(w, r, surface, apperr.MessageOf(err))
		return principal{}, false
	}
	s.log.Info("auth-success", "request_id", RequestID(r.Context()), "token", p.name, "locked_address", locked)
	return p, true
}

// lockedOut answers 429 to a locked-out client IP.
func (s *Server) lockedOut(w http.ResponseWriter, r *http.Request, until time.Time) {
	secs := int(time.Until(until).Seconds()) + 1
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.log.Debug("auth-locked-out", "request_id", RequestID(r.Context()), "remote_ip", redact.IP(ClientIP(r.Context())))
	s.writeError(w, r, errAuthLocked())
}

// errAuthLocked is the answer to a client refused for failing too often.
func errAuthLocked() error {
	return apperr.New(apperr.RateLimited, "Too many failed authentication attempts; try again later")
}

// checkBearer returns the caller an Authorization header names.
func (s *Server) checkBearer(ctx context.Context, header string) (principal, error) {
	const prefix = "Bearer "
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return principal{}, apperr.New(apperr.Unauthenticated, "Missing Bearer token")
	}
	return s.matchToken(ctx, strings.TrimSpace(header[len(prefix):]))
}

// matchToken finds the caller a token belongs to. The configured tokens
// are compared as hashes, so the comparison time depends on neither the
// token's length nor its content, and every one is compared; a token of
// the scoped shape is then looked up by its hash (apitoken.Authenticate).
func (s *Server) matchToken(ctx context.Context, token string) (principal, error) {
	if token == "" {
		return principal{}, apperr.New(apperr.Unauthenticated, "Missing Bearer token")
	}
	got := sha256.Sum256([]byte(token))
	name := ""
	for _, t := range s.cfg.BearerTokens {
		want := sha256.Sum256([]byte(t.Value))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 && name == "" {
			name = t.Name
		}
	}
	if name != "" {
		return principal{name: name, scopes: adminScopes}, nil
	}
	if s.Tokens == nil {
		return principal{}, apperr.New(apperr.Unauthenticated, "Invalid token")
	}
	t, err := s.Tokens.Authenticate(ctx, token)
	if err != nil {
		return principal{}, err
	}
	return principal{name: t.Name, scopes: t.Scopes}, nil
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
	s.writeError(w, r, apperr.New(apperr.Unauthenticated, msg))
}
