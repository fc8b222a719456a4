package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/poll"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

func listCaller(t *testing.T, db *store.DB, list, number string) {
	t.Helper()
	if _, err := db.Callers().AddCaller(context.Background(), voice.ListEntry{List: list, Number: number, Source: "api", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// TestCallerStatusOfConcurrentCallsIsEachCallersOwn: many calls looked up
// at once (on PostgreSQL they share queries) each get their own number's
// standing: a blocked caller batched with unlisted and allowed ones stays
// blocked, an unlisted one is not taken for allowed, and the allow list is
// seen in use as soon as it has an entry.
func TestCallerStatusOfConcurrentCallsIsEachCallersOwn(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Callers()
		number := func(i int) string { return fmt.Sprintf("+1555%07d", 1000+i) }
		const n = 300
		for i := 0; i < n; i += 3 {
			listCaller(t, db, voice.ListBlocked, number(i))
		}
		check := func(allowListInUse bool) {
			t.Helper()
			var wg sync.WaitGroup
			errs := make(chan error, n+1)
			for i := range n + 1 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					num := number(i)
					if i == n {
						num = "" // anonymous
					}
					st, err := s.CallerStatus(ctx, num)
					want := voice.CallerStatus{
						Blocked:        i < n && i%3 == 0,
						Allowed:        allowListInUse && i < n && i%3 == 1,
						AllowListInUse: allowListInUse,
					}
					if err != nil || st != want {
						errs <- fmt.Errorf("CallerStatus(%q) = %+v, %v; want %+v", num, st, err, want)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		}
		check(false)
		for i := 1; i < n; i += 3 {
			listCaller(t, db, voice.ListAllowed, number(i))
		}
		check(true)
	})
}

// stallCallerLists makes every caller-list read on PostgreSQL wait (a
// transaction holds caller_lists exclusively) until release is called.
func stallCallerLists(t *testing.T, db *store.DB) (release func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `LOCK TABLE caller_lists IN ACCESS EXCLUSIVE MODE`); err != nil {
		tx.Rollback() //nolint:errcheck // failing anyway
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { tx.Rollback() }) } //nolint:errcheck // the rollback releases the lock
	t.Cleanup(release)
	return release
}

// TestCallerStatusReturnsWhenItsContextEnds: a lookup waiting behind a
// stalled query returns with its context's error as soon as the context
// ends, and the lookups after the stall are answered.
func TestCallerStatusReturnsWhenItsContextEnds(t *testing.T) {
	db := storetest.Postgres(t)
	s := db.Callers()
	listCaller(t, db, voice.ListBlocked, "+15555550100")
	release := stallCallerLists(t, db)
	first := make(chan error, 1)
	go func() {
		_, err := s.CallerStatus(context.Background(), "+15555550101")
		first <- err
	}()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := s.CallerStatus(ctx, "+15555550100")
		got <- err
	}()
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("CallerStatus = %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("CallerStatus still waiting after its context ended")
	}
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	st, err := s.CallerStatus(context.Background(), "+15555550100")
	if err != nil || !st.Blocked {
		t.Fatalf("after the stall: %+v, %v; want blocked", st, err)
	}
}

// TestCallerStatusRefusesWhenTooManyWait: with the caller lists stalled, a
// flood of calls does not queue lookups without bound: beyond the bound
// they are answered at once with apperr.Unavailable (HTTP 503 to Twilio)
// while the stall lasts; every other lookup is answered once it ends.
func TestCallerStatusRefusesWhenTooManyWait(t *testing.T) {
	db := storetest.Postgres(t)
	s := db.Callers()
	release := stallCallerLists(t, db)
	const n = 2000
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	firstRefusal := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	refused, answered := 0, 0
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.CallerStatus(ctx, fmt.Sprintf("+1555%07d", i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				answered++
			case apperr.Is(err, apperr.Unavailable):
				refused++
				once.Do(func() { close(firstRefusal) })
			default:
				t.Errorf("lookup %d: %v", i, err)
			}
		}()
	}
	select {
	case <-firstRefusal:
	case <-ctx.Done():
		t.Fatal("no lookup refused while the caller lists were stalled: the queue grows without bound")
	}
	release()
	wg.Wait()
	if refused == 0 || refused+answered != n {
		t.Fatalf("refused %d, answered %d of %d", refused, answered, n)
	}
}

// TestCallerLookupsKeepOneGenericPlan: the batched caller-list query is
// planned once per connection, not at every execution (a custom plan each
// time, when the planner could see the array's length).
func TestCallerLookupsKeepOneGenericPlan(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	numbers := []string{"+15555550100", "+15555550101", "+15555550102"}
	for i := range 8 {
		rows, err := conn.QueryContext(ctx, store.CallerStatusBatchSQL, numbers[:1+i%3])
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	var generic, custom int64
	if err := conn.QueryRowContext(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1`,
		store.CallerStatusBatchSQL).Scan(&generic, &custom); err != nil {
		t.Fatal(err)
	}
	if generic == 0 || custom > 5 {
		t.Fatalf("generic plans %d, custom plans %d of 8 executions: planned anew every time", generic, custom)
	}
}

// TestCapacityShardsArePrunedEarly: the capacity shard table, updated by
// every admitted and ended call, has a low fillfactor, so PostgreSQL prunes
// its dead row versions long before a page fills (migration 01900).
func TestCapacityShardsArePrunedEarly(t *testing.T) {
	db := storetest.Postgres(t)
	var opts string
	if err := db.SQL.QueryRowContext(context.Background(), `SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class
WHERE oid = 'call_capacity_shards'::regclass`).Scan(&opts); err != nil {
		t.Fatal(err)
	}
	if opts != "fillfactor=10" {
		t.Fatalf("call_capacity_shards options = %q, want fillfactor=10", opts)
	}
}

// TestCallerStatusOfOthersSurvivesARefusedNumber: a number PostgreSQL
// refuses (a NUL byte: text cannot hold one) fails its own lookup only;
// the calls batched with it still get their standing.
func TestCallerStatusOfOthersSurvivesARefusedNumber(t *testing.T) {
	db := storetest.Postgres(t)
	s := db.Callers()
	listCaller(t, db, voice.ListBlocked, "+15555550100")
	release := stallCallerLists(t, db)
	first := make(chan error, 1)
	go func() {
		_, err := s.CallerStatus(context.Background(), "+15555550101")
		first <- err
	}()
	// Once the first lookup's query waits for the lock, these wait for
	// the next query and share it (fewer than callerLookupsOverlapAt, so
	// no second query starts beside the stalled one).
	poll.Wait(t, "the first lookup's query waiting for caller_lists", func() bool {
		var n int
		err := db.SQL.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND query = $1`, store.CallerStatusBatchSQL).Scan(&n)
		return err == nil && n > 0
	})
	type answer struct {
		st  voice.CallerStatus
		err error
	}
	numbers := []string{"+15555550100", "+1555\x00", "+15555550102"}
	answers := make([]chan answer, len(numbers))
	for i, n := range numbers {
		answers[i] = make(chan answer, 1)
		go func() {
			st, err := s.CallerStatus(context.Background(), n)
			answers[i] <- answer{st, err}
		}()
	}
	poll.Wait(t, "the lookups waiting behind the stalled query", func() bool { return db.CallerLookupsWaiting() == len(numbers) })
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if a := <-answers[0]; a.err != nil || !a.st.Blocked {
		t.Errorf("blocked caller batched with a refused number: %+v, %v; want blocked", a.st, a.err)
	}
	if a := <-answers[1]; a.err == nil {
		t.Errorf("number with a NUL byte: %+v, want an error", a.st)
	}
	if a := <-answers[2]; a.err != nil || a.st.Blocked {
		t.Errorf("unlisted caller batched with a refused number: %+v, %v; want not blocked", a.st, a.err)
	}
}
