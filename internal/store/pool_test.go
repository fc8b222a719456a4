package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// TestAdmitWithPoolAtItsLimit is the burst that deadlocked the server on
// PostgreSQL: more concurrent admissions than the pool has
// connections, against a cold statement cache. The old statement cache
// held its mutex while PrepareContext waited for a pooled connection, and
// every connection belonged to a transaction waiting for that mutex. The
// pool is made small so the limit is reached for certain (one connection on
// SQLite, where the writer lock lets one transaction run at a time, so the
// transaction's own connection is the one the cache waited for). Every
// admission must be answered before the deadline.
func TestAdmitWithPoolAtItsLimit(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		conns := 2
		if db.Engine == store.SQLite {
			conns = 1
		}
		db.SQL.SetMaxOpenConns(conns)
		const n, max = 48, 20
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s := db.Calls()
		start := make(chan struct{})
		errs := make(chan error, n)
		decisions := make(chan voice.Decision, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				c := acceptedCall(500+i, "")
				got, created, err := s.AdmitCall(ctx, c, capacity(max, c))
				if err == nil && !created {
					t.Errorf("admit %d: not created", i)
				}
				errs <- err
				decisions <- got.Decision
			}()
		}
		close(start)
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-ctx.Done():
			// The stuck goroutines hold the pool and the cache, so the
			// database cannot even be closed: end the test binary here,
			// with every goroutine's stack, rather than hang.
			panic("admissions still waiting at the deadline: the store deadlocked with its pool at the limit")
		}
		close(errs)
		close(decisions)
		for err := range errs {
			if err != nil {
				t.Fatalf("admission not answered (deadlock?): %v", err)
			}
		}
		accepted := 0
		for d := range decisions {
			if d == voice.Accept {
				accepted++
			}
		}
		if accepted != max {
			t.Fatalf("accepted = %d, want %d", accepted, max)
		}
	})
}
