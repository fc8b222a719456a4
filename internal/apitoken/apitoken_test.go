package apitoken_test

import (
	"context"
	"go.uber.org/goleak"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// countingStore counts lookups and last-used writes.
type countingStore struct {
	apitoken.Store
	lookups, touches atomic.Int64
}

func (c *countingStore) APITokenByHash(ctx context.Context, h [32]byte) (apitoken.Token, error) {
	c.lookups.Add(1)
	return c.Store.APITokenByHash(ctx, h)
}

func (c *countingStore) TouchAPITokens(ctx context.Context, used map[string]time.Time) error {
	c.touches.Add(1)
	return c.Store.TouchAPITokens(ctx, used)
}

type events struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (e *events) Record(ev audit.Event) { e.mu.Lock(); e.evs = append(e.evs, ev); e.mu.Unlock() }

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }
func service(st apitoken.Store, a apitoken.Auditor, c *clock) *apitoken.Service {
	return apitoken.NewService(st, a, apitoken.Options{Now: c.Now, TouchEvery: time.Hour})
}

func TestTokenLifecycle(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		ev := &events{}
		cs := &countingStore{Store: db.APITokens()}
		s := service(cs, ev, c)
		defer s.Close()

		tok, secret, err := s.Create(ctx, "primary", "dash-viewer", []apitoken.Scope{apitoken.CallsRead}, 90*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "va_") || len(secret) != 46 {
			t.Fatalf("secret shape = %q", secret)
		}
		if _, _, err := s.Create(ctx, "primary", "dash-viewer", []apitoken.Scope{apitoken.Admin}, 0); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("duplicate name: err = %v, want conflict", err)
		}
		// Only the hash is stored: the secret appears in no column.
		var n int
		if err := db.SQL.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_tokens WHERE token_hash = $1 OR name = $1 OR scopes = $1`, secret).Scan(&n); err != nil || n != 0 {
			t.Fatalf("secret stored in clear: n=%d err=%v", n, err)
		}

		got, err := s.Authenticate(ctx, secret)
		if err != nil || got.Name != "dash-viewer" || !got.Has(apitoken.CallsRead) || got.Has(apitoken.CallsWrite) {
			t.Fatalf("Authenticate = %+v, %v", got, err)
		}
		if !got.ExpiresAt.Equal(tok.ExpiresAt) {
			t.Fatalf("expiry = %v, want %v", got.ExpiresAt, tok.ExpiresAt)
		}
		// Wrong and malformed secrets: malformed ones never reach the store.
		before := cs.lookups.Load()
		for _, bad := range []string{"", "va_short", strings.Repeat("x", 46), "Bearer " + secret} {
			if _, err := s.Authenticate(ctx, bad); !apperr.Is(err, apperr.Unauthenticated) {
				t.Fatalf("Authenticate(%q) err = %v", bad, err)
			}
		}
		if got := cs.lookups.Load() - before; got != 0 {
			t.Fatalf("malformed secrets caused %d store lookups, want 0", got)
		}
		wrong := secret[:len(secret)-1] + map[bool]string{true: "A", false: "B"}[secret[len(secret)-1] != 'A']
		if _, err := s.Authenticate(ctx, wrong); !apperr.Is(err, apperr.Unauthenticated) {
			t.Fatalf("wrong secret err = %v", err)
		}

		// Expiry.
		c.Add(91 * 24 * time.Hour)
		if _, err := s.Authenticate(ctx, secret); apperr.MessageOf(err) != "Token expired" {
			t.Fatalf("expired: err = %v", err)
		}

		// Revoke: gone here at once; audited create and revoke.
		_, secret2, err := s.Create(ctx, "primary", "ops", []apitoken.Scope{apitoken.Admin}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, secret2); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, "primary", "ops"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, secret2); !apperr.Is(err, apperr.Unauthenticated) {
			t.Fatalf("revoked token still works here: %v", err)
		}
		if err := s.Revoke(ctx, "primary", "ops"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("second revoke err = %v", err)
		}
		var kinds []string
		for _, e := range ev.evs {
			if e.Type == audit.TypeTokenChange {
				kinds = append(kinds, e.Detail["action"].(string)+":"+e.Detail["name"].(string))
			}
			for _, v := range e.Detail {
				if s, ok := v.(string); ok && (strings.Contains(s, secret) || strings.Contains(s, secret2)) {
					t.Fatalf("audit detail holds a secret: %+v", e)
				}
			}
		}
		if strings.Join(kinds, " ") != "create:dash-viewer create:ops revoke:ops" {
			t.Fatalf("audited = %v", kinds)
		}
		list, err := s.List(ctx)
		if err != nil || len(list) != 1 || list[0].Name != "dash-viewer" || list[0].CreatedBy != "primary" {
			t.Fatalf("List = %+v, %v", list, err)
		}
	})
}

// TestRevokeSeenByOtherInstance: two services on one database stand for
// two instances. A revoke on A takes effect on B once B's cache entry is
// older than CacheTTL, the documented bound.
func TestRevokeSeenByOtherInstance(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		a := service(db.APITokens(), &events{}, c)
		defer a.Close()
		b := service(db.APITokens(), &events{}, c)
		defer b.Close()
		_, secret, err := a.Create(ctx, "primary", "viewer", []apitoken.Scope{apitoken.CallsRead}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Authenticate(ctx, secret); err != nil {
			t.Fatalf("B does not see a token made on A: %v", err)
		}
		if err := a.Revoke(ctx, "primary", "viewer"); err != nil {
			t.Fatal(err)
		}
		c.Add(apitoken.CacheTTL)
		if _, err := b.Authenticate(ctx, secret); !apperr.Is(err, apperr.Unauthenticated) {
			t.Fatalf("B still accepts a token revoked on A after CacheTTL: %v", err)
		}
	})
}

// TestLastUsedCoalesced: many uses cost one write, and the time is stored.
func TestLastUsedCoalesced(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	c := newClock()
	cs := &countingStore{Store: db.APITokens()}
	s := service(cs, &events{}, c)
	defer s.Close()
	_, secret, err := s.Create(ctx, "cli", "busy", []apitoken.Scope{apitoken.MetricsRead}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 500 {
		c.Add(time.Millisecond)
		if _, err := s.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if got := cs.touches.Load(); got != 0 {
		t.Fatalf("last-used written %d times on the request path, want 0", got)
	}
	if got := cs.lookups.Load(); got != 1 {
		t.Fatalf("store lookups = %d, want 1 (cached within CacheTTL)", got)
	}
	s.FlushLastUsed(ctx)
	if got := cs.touches.Load(); got != 1 {
		t.Fatalf("last-used writes = %d, want 1", got)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || !list[0].LastUsedAt.Equal(c.Now().Truncate(time.Millisecond)) {
		t.Fatalf("List = %+v, %v; want last used %v", list, err, c.Now())
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true}, {"never", 0, true}, {"90d", 90 * 24 * time.Hour, true}, {"12h", 12 * time.Hour, true},
		{"0d", 0, false}, {"-1d", 0, false}, {"3651d", 0, false}, {"30s", 0, false}, {"1y", 0, false}, {"d", 0, false},
	} {
		got, err := apitoken.ParseExpiry(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseExpiry(%q) = %v, %v", tc.in, got, err)
		}
	}
	sc, err := apitoken.ParseScopes([]string{"contacts:write, calls:read", "calls:read"})
	if err != nil || apitoken.Join(sc) != "calls:read,contacts:write" {
		t.Fatalf("ParseScopes = %v, %v", sc, err)
	}
	for _, bad := range [][]string{nil, {""}, {"calls:delete"}, {"Admin"}} {
		if _, err := apitoken.ParseScopes(bad); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("ParseScopes(%q) err = %v", bad, err)
		}
	}
	for name, ok := range map[string]bool{"dash": true, "ci.deploy-2": true, "primary": false, "next": false, "": false, "Dash": false, "-x": false, strings.Repeat("a", 64): false} {
		if apitoken.ValidName(name) != ok {
			t.Errorf("ValidName(%q) = %v", name, !ok)
		}
	}
}

// BenchmarkAuthenticate: a scoped token found in the cache, and looked up
// in SQLite every time (what a request costs once per CacheTTL per token).
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	db := storetest.SQLite(b)
	for _, tc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", apitoken.CacheTTL}, {"store", time.Nanosecond}} {
		b.Run(tc.name, func(b *testing.B) {
			s := apitoken.NewService(db.APITokens(), &events{}, apitoken.Options{CacheTTL: tc.ttl})
			defer s.Close()
			_, secret, err := s.Create(ctx, "bench", "bench-"+tc.name, []apitoken.Scope{apitoken.CallsRead}, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Authenticate(ctx, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
