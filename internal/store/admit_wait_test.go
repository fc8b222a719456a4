package store_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// stallAdmissions makes every admission batch wait until the returned
// release is called: on SQLite a transaction holds the writer lock, on
// PostgreSQL one holds a lock on calls that every INSERT waits for. It
// returns once the stall is in place.
func stallAdmissions(t *testing.T, db *store.DB) (release func()) {
	t.Helper()
	ctx := context.Background()
	held, done := make(chan struct{}), make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(done) }) }
	t.Cleanup(release)
	errc := make(chan error, 1)
	go func() {
		if db.Engine == store.SQLite {
			errc <- db.InTx(ctx, func(*sql.Tx) error { close(held); <-done; return nil })
			return
		}
		tx, err := db.SQL.BeginTx(ctx, nil)
		if err != nil {
			errc <- err
			return
		}
		defer tx.Rollback() //nolint:errcheck // released by the rollback
		if _, err := tx.ExecContext(ctx, `LOCK TABLE calls IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			errc <- err
			return
		}
		close(held)
		<-done
		errc <- nil
	}()
	select {
	case <-held:
	case err := <-errc:
		t.Fatalf("stall admissions: %v", err)
	}
	return release
}

// TestAdmitCallReturnsWhenItsContextEnds: an admission waiting behind a
// stalled batch returns with its context's error as soon as the context
// ends (before, it waited on a channel for the batch ahead, whatever its
// context). Its call is then either not stored or stored with the answer
// a retry gets.
func TestAdmitCallReturnsWhenItsContextEnds(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		s := db.Calls()
		release := stallAdmissions(t, db)
		first := make(chan error, 1)
		go func() {
			c := acceptedCall(900, "")
			_, _, err := s.AdmitCall(context.Background(), c, capacity(10, c))
			first <- err
		}()

		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan error, 1)
		c := acceptedCall(901, "")
		go func() {
			_, _, err := s.AdmitCall(ctx, c, capacity(10, c))
			got <- err
		}()
		cancel()
		select {
		case err := <-got:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("AdmitCall = %v, want context.Canceled", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("AdmitCall still waiting after its context ended (it waits for the stalled batch)")
		}
		release()
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		retry, created, err := s.AdmitCall(context.Background(), c, capacity(10, c))
		if err != nil || retry.Decision != voice.Accept {
			t.Fatalf("retry = %s, %v; want accepted", retry.Decision, err)
		}
		if stored := rowCount(t, db, `SELECT COUNT(*) FROM calls WHERE call_sid = $1`, c.CallSID); stored != 1 {
			t.Fatalf("rows for the call = %d, want 1 (created by the retry: %v)", stored, created)
		}
	})
}

// TestAdmitCallRefusesWhenTooManyWait: with the database stalled, a flood
// of admissions does not queue without bound: beyond the bound they are
// answered at once with apperr.Unavailable (HTTP 503 to Twilio), while
// the database is still stalled, and write nothing.
func TestAdmitCallRefusesWhenTooManyWait(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		s := db.Calls()
		release := stallAdmissions(t, db)
		const n = 2000
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var released atomic.Bool
		var refused, refusedEarly, admitted atomic.Int64
		firstRefusal := make(chan struct{})
		var once sync.Once
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := acceptedCall(10_000+i, "")
				_, _, err := s.AdmitCall(ctx, c, capacity(n, c))
				switch {
				case err == nil:
					admitted.Add(1)
				case apperr.Is(err, apperr.Unavailable):
					if !released.Load() {
						refusedEarly.Add(1)
					}
					refused.Add(1)
					once.Do(func() { close(firstRefusal) })
				case ctx.Err() == nil:
					t.Errorf("admission %d: %v", i, err)
				}
			}()
		}
		stalledRefusal := true
		select {
		case <-firstRefusal:
		case <-ctx.Done():
			stalledRefusal = false
		}
		released.Store(true)
		release()
		wg.Wait()
		if !stalledRefusal {
			t.Fatal("no admission refused while the database was stalled: the queue grows without bound")
		}
		if refusedEarly.Load() == 0 || refused.Load()+admitted.Load() != n {
			t.Fatalf("refused %d (%d while stalled), admitted %d of %d", refused.Load(), refusedEarly.Load(), admitted.Load(), n)
		}
		if rows := rowCount(t, db, `SELECT COUNT(*) FROM calls`); int64(rows) != admitted.Load() {
			t.Fatalf("rows = %d, want one per admitted call (%d)", rows, admitted.Load())
		}
	})
}
