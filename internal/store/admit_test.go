package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// TestGroupCommitKeepsTheCapAcrossInstances admits calls through two
// instances' stores at once on PostgreSQL, each call delivered twice
// (Twilio's retry racing the first delivery): admissions are batched per
// instance, the batches of both instances are ordered by the counter row,
// so exactly max calls are accepted, and both deliveries of a call get the
// same answer.
func TestGroupCommitKeepsTheCapAcrossInstances(t *testing.T) {
	dbA, url := storetest.PostgresURL(t)
	dbB, err := store.Open(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer dbB.Close()
	const calls, max = 60, 25
	stores := []*store.CallStore{dbA.Calls(), dbB.Calls()}
	answers := make([][2]voice.Call, calls)
	var wg sync.WaitGroup
	errs := make(chan error, 2*calls)
	for i := range calls {
		for d := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := acceptedCall(700+i, "")
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
	if accepted != max {
		t.Fatalf("accepted = %d, want %d", accepted, max)
	}
	var active int
	if err := dbA.SQL.QueryRow(`SELECT active FROM call_capacity WHERE id = 1`).Scan(&active); err != nil || active != max {
		t.Fatalf("capacity counter = %d (%v), want %d", active, err, max)
	}
}
