package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// twoInstances returns the call stores of two store.DB handles (two
// instances' pools) on one fresh PostgreSQL schema.
func twoInstances(t *testing.T) (*store.DB, []*store.CallStore) {
	t.Helper()
	dbA, url := storetest.PostgresURL(t)
	dbB, err := store.Open(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbB.Close() })
	return dbA, []*store.CallStore{dbA.Calls(), dbB.Calls()}
}

// checkShards fails unless every shard's counter equals its calls with
// active = 1 and the total equals want.
func checkShards(t *testing.T, db *store.DB, want int) {
	t.Helper()
	var bad int
	if err := db.SQL.QueryRow(`SELECT COUNT(*) FROM call_capacity_shards s
WHERE s.active <> (SELECT COUNT(*) FROM calls c WHERE c.active = 1 AND c.capacity_shard = s.shard)`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Fatalf("%d shard counters differ from their calls", bad)
	}
	if got := rowCount(t, db, `SELECT active FROM call_capacity WHERE id = 1`); got != want {
		t.Fatalf("capacity total = %d, want %d", got, want)
	}
	if got := rowCount(t, db, `SELECT COUNT(*) FROM calls WHERE active = 1`); got != want {
		t.Fatalf("active calls = %d, want %d", got, want)
	}
}

// admitRace delivers each of n new calls twice at once (a Twilio retry
// racing the first delivery), the two deliveries through different
// instances, and returns how many calls were accepted. Both deliveries of
// a call must get the same answer.
func admitRace(t *testing.T, stores []*store.CallStore, first, n, max int) int {
	t.Helper()
	answers := make([][2]voice.Call, n)
	errs := make(chan error, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		for d := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := acceptedCall(first+i, "")
				got, _, err := stores[(i+d)%2].AdmitCall(context.Background(), c, capacity(max, c))
				errs <- err
				answers[i][d] = got
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	accepted := 0
	for i, a := range answers {
		if a[0].Decision != a[1].Decision || a[0].TwiML != a[1].TwiML {
			t.Fatalf("call %d answered %s then %s", i, a[0].Decision, a[1].Decision)
		}
		if a[0].Decision == voice.Accept {
			accepted++
		}
	}
	return accepted
}

// TestShardedCapIsExactAcrossInstances races two instances for the last
// slots at caps smaller than, equal to and larger than the number of
// capacity shards (a cap below the shard count leaves shards with no
// share; a batch may need slots of several shards): exactly max calls are
// accepted every time, and each shard's counter matches its calls.
func TestShardedCapIsExactAcrossInstances(t *testing.T) {
	for _, max := range []int{1, 5, 32, 45, 100} {
		t.Run(fmt.Sprint("max", max), func(t *testing.T) {
			db, stores := twoInstances(t)
			if got := admitRace(t, stores, 1000, max+40, max); got != max {
				t.Fatalf("accepted = %d, want %d", got, max)
			}
			checkShards(t, db, max)
		})
	}
}

// TestLoweredCapIsNeverExceeded: calls admitted under a cap of 64 spread
// over the shards; under a cap of 32 some shards then hold more than their
// share. No call may be accepted until the total is below the new cap, and
// then exactly up to it, though most shards still have room of their own.
func TestLoweredCapIsNeverExceeded(t *testing.T) {
	db, stores := twoInstances(t)
	if got := admitRace(t, stores, 2000, 40, 64); got != 40 {
		t.Fatalf("accepted = %d under a cap of 64, want 40", got)
	}
	if got := admitRace(t, stores, 3000, 20, 32); got != 0 {
		t.Fatalf("accepted = %d with 40 live and a cap of 32, want 0", got)
	}
	ctx := context.Background()
	for i := range 12 {
		if _, err := stores[i%2].EndCall(ctx, voice.CallEnd{CallSID: sid(2000 + i), Reason: voice.EndCallerHangup, At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if got := admitRace(t, stores, 4000, 20, 32); got != 4 {
		t.Fatalf("accepted = %d with 28 live and a cap of 32, want 4", got)
	}
	checkShards(t, db, 32)
}

// TestSweepRacingAdmissionsAtTheCap: the stale-slot sweep frees slots on
// several shards while two instances admit at the cap and end calls; the
// shard locks are taken in one order, so nothing deadlocks (every call
// answered before the deadline) and the cap holds throughout.
func TestSweepRacingAdmissionsAtTheCap(t *testing.T) {
	db, stores := twoInstances(t)
	const max = 20
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Stale: created long ago, never streamed.
	if got := admitRace(t, stores, 5000, max, max); got != max {
		t.Fatalf("accepted = %d, want %d", got, max)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			if _, err := stores[0].FreeStaleSlots(ctx, t0.Add(time.Second), t0.Add(-time.Hour)); err != nil {
				errs <- fmt.Errorf("sweep: %w", err)
				return
			}
		}
	}()
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := acceptedCall(6000+i, "")
			c.CreatedAt = t0.Add(time.Hour) // not stale
			if _, _, err := stores[i%2].AdmitCall(ctx, c, capacity(max, c)); err != nil {
				errs <- err
				return
			}
			if i%3 == 0 {
				if _, err := stores[(i+1)%2].EndCall(ctx, voice.CallEnd{CallSID: c.CallSID, Reason: voice.EndCallerHangup, At: t0}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	live := rowCount(t, db, `SELECT COUNT(*) FROM calls WHERE active = 1`)
	if live > max {
		t.Fatalf("%d calls hold a slot, cap %d", live, max)
	}
	checkShards(t, db, live)
}

// TestRetryUnderTheCapGetsTheStoredAnswer: a retry arriving when the cap
// is far off (a batch a single statement decides) is answered with the
// stored call, not stored again, and takes no second slot; so is a
// retry Twilio sent with another CallSid but the same idempotency key.
func TestRetryUnderTheCapGetsTheStoredAnswer(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Calls()
		first := acceptedCall(7000, "idem-7000")
		got, created, err := s.AdmitCall(ctx, first, capacity(1000, first))
		if err != nil || !created || got.Decision != voice.Accept {
			t.Fatalf("first delivery = %s, %v, %v", got.Decision, created, err)
		}
		again := first
		again.TwiML = "<Response>another answer</Response>"
		other := acceptedCall(7001, "idem-7000") // same idempotency key, another CallSid
		for _, retry := range []voice.Call{again, other} {
			got, created, err = s.AdmitCall(ctx, retry, capacity(1000, retry))
			if err != nil || created || got.CallSID != first.CallSID || got.TwiML != first.TwiML {
				t.Fatalf("retry %s = %s %q, created %v, %v; want the stored call", retry.CallSID, got.CallSID, got.TwiML, created, err)
			}
		}
		if n := rowCount(t, db, `SELECT COUNT(*) FROM calls`); n != 1 {
			t.Fatalf("rows = %d, want 1", n)
		}
		if n := rowCount(t, db, `SELECT active FROM call_capacity WHERE id = 1`); n != 1 {
			t.Fatalf("slots taken = %d, want 1", n)
		}
	})
}

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
