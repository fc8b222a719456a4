package apitoken

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/panics"
)

// CacheTTL bounds how long a validated token is trusted without asking the
// store again: a revocation on another instance takes effect within it
// (on the instance that revoked, at once).
const CacheTTL = 10 * time.Second

// TouchEvery is how often last-used times are written back: at most one
// write per token per interval per instance, never on the request path.
const TouchEvery = time.Minute

// maxCached bounds the validation cache; when full it is emptied.
const maxCached = 10_000

// Auditor records audit events (*audit.Recorder).
type Auditor interface {
	Record(ev audit.Event)
}

// Service creates, lists, revokes and authenticates scoped tokens.
type Service struct {
	store Store
	audit Auditor
	log   *slog.Logger
	now   func() time.Time
	ttl   time.Duration

	mu    sync.Mutex
	cache map[[32]byte]cached
	// revokes counts revocations: a lookup that began before one does not
	// cache what it read (it may be the token just revoked).
	revokes uint64

	used *lastUsed
}

type cached struct {
	tok     Token
	fetched time.Time
}

// Options tune a Service; zero values take the defaults.
type Options struct {
	Now        func() time.Time
	CacheTTL   time.Duration
	TouchEvery time.Duration
	Log        *slog.Logger
}

// NewService returns a service and starts its last-used writer; Close
// stops it after a final write.
func NewService(store Store, auditor Auditor, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = CacheTTL
	}
	if o.TouchEvery == 0 {
		o.TouchEvery = TouchEvery
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, audit: auditor, log: o.Log, now: o.Now, ttl: o.CacheTTL, cache: map[[32]byte]cached{}}
	s.used = newLastUsed(o.TouchEvery, store.TouchAPITokens, o.Log, func(v any) {
		panics.Log(o.Log, "panic contained", "apitoken", v, false, "where", "api_token_last_used")
		auditor.Record(audit.Event{Type: audit.TypeError, Severity: audit.Warning, Actor: "apitoken",
			Detail: map[string]any{"source": "panic", "where": "api_token_last_used", "message": panics.Message(v)}})
	})
	return s
}

// Close writes pending last-used times and stops the writer.
func (s *Service) Close() { s.used.close() }

// FlushLastUsed writes pending last-used times now (tests, shutdown).
func (s *Service) FlushLastUsed(ctx context.Context) { s.used.flush(ctx) }

// Create makes a token named name with scopes, expiring after expires (0:
// never), and returns its record and the secret, which is shown once and
// never stored. actor names who asked ("primary", a token name, "cli").
func (s *Service) Create(ctx context.Context, actor, name string, scopes []Scope, expires time.Duration) (Token, string, error) {
	if !ValidName(name) {
		return Token{}, "", apperr.New(apperr.Invalid, "name must be 1-63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit, and not primary or next")
	}
	if len(scopes) == 0 {
		return Token{}, "", apperr.New(apperr.Invalid, "at least one scope is required")
	}
	if expires < 0 || expires > MaxExpiry {
		return Token{}, "", apperr.New(apperr.Invalid, "expires must be between 1m and 3650d")
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	t := Token{Name: name, Scopes: scopes, CreatedAt: now, CreatedBy: actor}
	if expires > 0 {
		t.ExpiresAt = now.Add(expires)
	}
	secret := newSecret()
	if err := s.store.InsertAPIToken(ctx, t, Hash(secret)); err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			return Token{}, "", apperr.Wrap(err, apperr.Conflict, "a token with that name exists; revoke it first")
		}
		return Token{}, "", err
	}
	detail := map[string]any{"action": "create", "name": name, "scopes": Join(scopes)}
	if !t.ExpiresAt.IsZero() {
		detail["expiresAt"] = t.ExpiresAt.Format(time.RFC3339)
	}
	s.audit.Record(audit.Event{Type: audit.TypeTokenChange, Severity: audit.Info, Actor: actor, Detail: detail})
	return t, secret, nil
}

// List returns every token (never a secret or hash).
func (s *Service) List(ctx context.Context) ([]Token, error) { return s.store.ListAPITokens(ctx) }

// Revoke deletes the token; this instance forgets it at once, others
// within CacheTTL.
func (s *Service) Revoke(ctx context.Context, actor, name string) error {
	if !ValidName(name) {
		return apperr.New(apperr.NotFound, "token not found")
	}
	if err := s.store.DeleteAPIToken(ctx, name); err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return apperr.Wrap(err, apperr.NotFound, "token not found")
		}
		return err
	}
	s.mu.Lock()
	s.revokes++
	for h, c := range s.cache {
		if c.tok.Name == name {
			delete(s.cache, h)
		}
	}
	s.mu.Unlock()
	s.used.forget(name)
	s.audit.Record(audit.Event{Type: audit.TypeTokenChange, Severity: audit.Warning, Actor: actor, Detail: map[string]any{"action": "revoke", "name": name}})
	return nil
}

// Authenticate returns the token whose secret this is. A string without
// the token shape is refused before any lookup; otherwise the SHA-256 is
// looked up (cache first, for at most CacheTTL, then the store by its
// unique index), so the work done does not depend on how much of a guess
// is right. Failures are apperr.Unauthenticated ("Invalid token", "Token
// expired").
func (s *Service) Authenticate(ctx context.Context, secret string) (Token, error) {
	if !wellFormed(secret) {
		return Token{}, apperr.New(apperr.Unauthenticated, "Invalid token")
	}
	h := Hash(secret)
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[h]
	gen := s.revokes
	s.mu.Unlock()
	if !ok || now.Sub(c.fetched) >= s.ttl || now.Before(c.fetched) {
		t, err := s.store.APITokenByHash(ctx, h)
		if err != nil {
			s.mu.Lock()
			delete(s.cache, h)
			s.mu.Unlock()
			if apperr.CodeOf(err) == apperr.NotFound {
				return Token{}, apperr.New(apperr.Unauthenticated, "Invalid token")
			}
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return Token{}, err
			}
			return Token{}, apperr.Wrap(err, apperr.Unavailable, "token store unavailable")
		}
		c = cached{tok: t, fetched: now}
		s.mu.Lock()
		if s.revokes == gen {
			if len(s.cache) >= maxCached {
				clear(s.cache)
			}
			s.cache[h] = c
		}
		s.mu.Unlock()
	}
	if c.tok.Expired(now) {
		return Token{}, apperr.New(apperr.Unauthenticated, "Token expired")
	}
	s.used.touch(c.tok.Name, now)
	return c.tok, nil
}
