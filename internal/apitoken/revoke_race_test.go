package apitoken_test

import (
	"context"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// slowLookup holds its first lookup, after it has read the row, until
// released: a request in flight while the token is revoked.
type slowLookup struct {
	apitoken.Store
	entered, release chan struct{}
	held             bool
}

func (s *slowLookup) APITokenByHash(ctx context.Context, h [32]byte) (apitoken.Token, error) {
	t, err := s.Store.APITokenByHash(ctx, h)
	if !s.held {
		s.held = true
		close(s.entered)
		<-s.release
	}
	return t, err
}

// TestRevokeWinsOverALookupInFlight: a lookup that read the token before
// it was revoked must not put it back into the cache afterwards; on the
// revoking instance the token stops working at once, as documented, not
// after CacheTTL.
func TestRevokeWinsOverALookupInFlight(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	st := &slowLookup{Store: db.APITokens(), entered: make(chan struct{}), release: make(chan struct{})}
	s := apitoken.NewService(st, &events{}, apitoken.Options{TouchEvery: time.Hour})
	defer s.Close()
	_, secret, err := s.Create(ctx, "cli", "leaked", []apitoken.Scope{apitoken.CallsRead}, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Authenticate(ctx, secret) //nolint:errcheck // concurrent with the revoke: either answer is right
	}()
	<-st.entered
	if err := s.Revoke(ctx, "cli", "leaked"); err != nil {
		t.Fatal(err)
	}
	close(st.release)
	<-done
	if _, err := s.Authenticate(ctx, secret); apperr.CodeOf(err) != apperr.Unauthenticated {
		t.Fatalf("revoked token after a lookup in flight: err = %v, want unauthenticated", err)
	}
}
