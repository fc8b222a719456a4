// Package apitoken owns scoped API tokens: the tokens operators create for
// least privilege beside INTERNAL_API_BEARER (which stays the admin token).
// A token is shown once when it is made; only its SHA-256 is stored, with a
// name, scopes, creation, expiry and last-use times.
package apitoken

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

// Scope is one permission a token may hold.
type Scope string

// The scopes. Admin implies every other one and is the only scope that may
// manage tokens. A write scope does not imply its read scope: a token gets
// exactly what it lists.
const (
	CallsRead     Scope = "calls:read"     // call list and details, conference details, /logs, the dashboard
	CallsWrite    Scope = "calls:write"    // conference add/forward/end and other call actions
	ContactsRead  Scope = "contacts:read"  // list and read contacts
	ContactsWrite Scope = "contacts:write" // create, replace, update, delete contacts
	CallersRead   Scope = "callers:read"   // read the deny and allow lists (full numbers)
	CallersWrite  Scope = "callers:write"  // add to and remove from the deny and allow lists
	Privacy       Scope = "privacy"        // export and erase one person's data
	AuditRead     Scope = "audit:read"     // the audit log
	MetricsRead   Scope = "metrics:read"   // /metrics and the details of /ready
	AgentsRead    Scope = "agents:read"    // agents, numbers and HTTP tools (never a tool's secret)
	AgentsWrite   Scope = "agents:write"   // create, change, delete them; rotate a tool's secret
	WebhooksRead  Scope = "webhooks:read"  // webhook subscriptions and their delivery log (never a secret)
	WebhooksWrite Scope = "webhooks:write" // create, delete and test webhook subscriptions
	Admin         Scope = "admin"          // everything, token management included
)

// All lists every scope in a stable order.
var All = []Scope{CallsRead, CallsWrite, ContactsRead, ContactsWrite, CallersRead, CallersWrite, Privacy, AuditRead, MetricsRead, AgentsRead, AgentsWrite, WebhooksRead, WebhooksWrite, Admin}

// Prefix starts every scoped token, so a leaked one is recognisable (secret
// scanners, logs) and anything else is refused without a lookup.
const Prefix = "va_"

// secretLen is len(Prefix) + 43 characters of unpadded base64url (256 bits).
const secretLen = len(Prefix) + 43

// MaxExpiry bounds --expires.
const MaxExpiry = 3650 * 24 * time.Hour

// Reserved names belong to the INTERNAL_API_BEARER tokens.
var reserved = []string{"primary", "next"}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Token is a scoped token's stored record (never the secret).
type Token struct {
	Name       string
	Scopes     []Scope
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time // zero: never used (or not yet written back)
	CreatedBy  string    // the token name that created it, or "cli"
}

// Has reports whether the token grants s (admin grants everything).
func (t Token) Has(s Scope) bool { return HasScope(t.Scopes, s) }

// Expired reports whether the token has an expiry that has passed at now.
func (t Token) Expired(now time.Time) bool { return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) }

// HasScope reports whether scopes grant s.
func HasScope(scopes []Scope, s Scope) bool {
	return slices.Contains(scopes, Admin) || slices.Contains(scopes, s)
}

// ValidName reports whether name may name a token: 1 to 63 of a-z, 0-9,
// '.', '_', '-', starting with a letter or digit, not primary or next.
func ValidName(name string) bool {
	return nameRE.MatchString(name) && !slices.Contains(reserved, name)
}

// ParseScopes reads a comma-separated or listed set of scope names,
// refusing unknown ones and empty sets; the result is sorted and
// deduplicated.
func ParseScopes(names []string) ([]Scope, error) {
	var out []Scope
	for _, n := range names {
		for _, p := range strings.Split(n, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			s := Scope(p)
			if !slices.Contains(All, s) {
				return nil, apperr.Errorf(apperr.Invalid, "unknown scope %q (known: %s)", clip(p), Join(All))
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, apperr.Errorf(apperr.Invalid, "at least one scope is required (known: %s)", Join(All))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Join renders scopes comma-separated.
func Join(scopes []Scope) string {
	s := make([]string, len(scopes))
	for i, x := range scopes {
		s[i] = string(x)
	}
	return strings.Join(s, ",")
}

// ParseExpiry reads a lifetime such as "90d", "12h" or "30m" (Go durations
// plus whole days); "" and "never" mean no expiry (zero).
func ParseExpiry(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "never" {
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > int(MaxExpiry/(24*time.Hour)) {
			return 0, apperr.New(apperr.Invalid, "expires must be a lifetime such as 90d, 12h or never, at most 3650d")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, apperr.New(apperr.Invalid, "expires must be a lifetime such as 90d, 12h or never, at most 3650d")
		}
	}
	if d < time.Minute || d > MaxExpiry {
		return 0, apperr.New(apperr.Invalid, "expires must be between 1m and 3650d")
	}
	return d, nil
}

// newSecret returns a fresh token: Prefix + 256 random bits, base64url.
func newSecret() string {
	var b [32]byte
	rand.Read(b[:]) //nolint:errcheck // never fails
	return Prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash is the stored form of a secret.
func Hash(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// wellFormed reports whether secret has the shape of a scoped token; any
// other string is refused without touching the store.
func wellFormed(secret string) bool {
	if len(secret) != secretLen || !strings.HasPrefix(secret, Prefix) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(secret[len(Prefix):])
	return err == nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Store persists tokens. Hashes are SHA-256 of the secret.
type Store interface {
	// InsertAPIToken stores t; a name in use is apperr.Conflict.
	InsertAPIToken(ctx context.Context, t Token, hash [32]byte) error
	// ListAPITokens returns every token ordered by name.
	ListAPITokens(ctx context.Context) ([]Token, error)
	// DeleteAPIToken removes the token; an unknown name is apperr.NotFound.
	DeleteAPIToken(ctx context.Context, name string) error
	// APITokenByHash returns the token with that hash or apperr.NotFound.
	APITokenByHash(ctx context.Context, hash [32]byte) (Token, error)
	// TouchAPITokens sets last-used times (only ever forward).
	TouchAPITokens(ctx context.Context, used map[string]time.Time) error
}
