package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/outbound"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// TestOutboundReserve: the rate windows count reservations per
// destination, per minute and per day, name the time the window frees,
// and a released reservation does not count. On both engines.
func TestOutboundReserve(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Outbound()
		l := outbound.Limits{PerMinute: 2, PerDay: 3, PerDestination: 1, DestinationWindow: 10 * time.Minute}
		now := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
		limit := func(err error) string {
			var re *outbound.RateError
			if errors.As(err, &re) {
				return re.Limit + "@" + re.RetryAt.Format(time.RFC3339)
			}
			if err != nil {
				return err.Error()
			}
			return ""
		}
		id, err := s.ReserveAttempt(ctx, "a", l, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReserveAttempt(ctx, "a", l, now.Add(time.Minute)); limit(err) != "per_destination@2026-12-07T18:10:00Z" {
			t.Fatalf("second to a = %v", limit(err))
		}
		if err := s.ReleaseAttempt(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReserveAttempt(ctx, "a", l, now.Add(time.Minute)); err != nil {
			t.Fatalf("after release: %v", err)
		}
		if _, err := s.ReserveAttempt(ctx, "b", l, now.Add(70*time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReserveAttempt(ctx, "c", l, now.Add(80*time.Second)); limit(err) != "per_minute@2026-12-07T18:02:00Z" {
			t.Fatalf("third in a minute = %v", limit(err))
		}
		if _, err := s.ReserveAttempt(ctx, "c", l, now.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReserveAttempt(ctx, "d", l, now.Add(5*time.Minute)); limit(err) != "per_day@2026-12-08T18:01:00Z" {
			t.Fatalf("fourth in a day = %v", limit(err))
		}
		// A day later the old rows are gone.
		if _, err := s.ReserveAttempt(ctx, "d", l, now.Add(25*time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOutboundReserveConcurrent: reservations racing from many
// goroutines (on PostgreSQL, as from several instances: each runs its own
// transaction on its own connection) never exceed a limit.
func TestOutboundReserveConcurrent(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := outbound.Limits{PerMinute: 5, PerDay: 100}
		now := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := db.Outbound().ReserveAttempt(ctx, "x", l, now)
				mu.Lock()
				defer mu.Unlock()
				var re *outbound.RateError
				switch {
				case err == nil:
					ok++
				case !errors.As(err, &re):
					t.Errorf("reserve: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok != 5 {
			t.Fatalf("%d reservations succeeded, want exactly 5", ok)
		}
	})
}

func outboundLimits() outbound.Limits {
	return outbound.Limits{PerMinute: 10, PerDay: 500, PerDestination: 1, DestinationWindow: 10 * time.Minute}
}
