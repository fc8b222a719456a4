package webhooks_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/agents"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/webhooks"
)

type nopAudit struct{}

func (nopAudit) Record(audit.Event) {}

func newService(t *testing.T, st webhooks.Store) *webhooks.Service {
	t.Helper()
	sealer, err := agents.NewSealerFor("test-privacy-key-0123456789abcdef", "webhook")
	if err != nil {
		t.Fatal(err)
	}
	return webhooks.NewService(st, nopAudit{}, sealer, webhooks.Settings{CheckURL: func(string) error { return nil }})
}

// racingStore holds every ListSubscriptions caller, after its read,
// until two have read: two creations then both read the subscriptions
// before either writes, as two requests (or two instances) racing do.
type racingStore struct {
	*store.WebhookStore
	arrived sync.WaitGroup
}

func (r *racingStore) ListSubscriptions(ctx context.Context) ([]webhooks.Subscription, error) {
	subs, err := r.WebhookStore.ListSubscriptions(ctx)
	r.arrived.Done()
	r.arrived.Wait()
	return subs, err
}

// createAll runs n creations at once and counts the successes and the
// 409s (anything else fails the test).
func createAll(t *testing.T, svcs []*webhooks.Service, n int) (created, full int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := svcs[i%len(svcs)].Create(context.Background(), "test", fmt.Sprintf("https://hooks.example.com/%d", i), []string{webhooks.CallEnded})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case apperr.Is(err, apperr.Conflict):
				full++
			default:
				t.Errorf("create: %v", err)
			}
		}()
	}
	wg.Wait()
	return created, full
}

// TestSubscriptionCapUnderRacingCreates: with 19 subscriptions, two
// creations that both saw 19 cannot both succeed: the cap of 20 holds.
func TestSubscriptionCapUnderRacingCreates(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		if created, _ := createAll(t, []*webhooks.Service{newService(t, db.Webhooks())}, webhooks.MaxSubscriptions-1); created != webhooks.MaxSubscriptions-1 {
			t.Fatalf("created %d", created)
		}
		rs := &racingStore{WebhookStore: db.Webhooks()}
		rs.arrived.Add(2)
		created, full := createAll(t, []*webhooks.Service{newService(t, rs)}, 2)
		if created != 1 || full != 1 {
			t.Fatalf("racing creations: %d created, %d refused; want 1 and 1", created, full)
		}
		if subs, _ := db.Webhooks().ListSubscriptions(context.Background()); len(subs) != webhooks.MaxSubscriptions {
			t.Fatalf("%d subscriptions, want %d", len(subs), webhooks.MaxSubscriptions)
		}
	})
}

// TestSubscriptionCapTwoInstancesPostgres: 30 creations at once through
// two instances on one PostgreSQL make exactly 20 subscriptions.
func TestSubscriptionCapTwoInstancesPostgres(t *testing.T) {
	dbA, url := storetest.PostgresURL(t)
	dbB, err := store.Open(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbB.Close() })
	created, full := createAll(t, []*webhooks.Service{newService(t, dbA.Webhooks()), newService(t, dbB.Webhooks())}, 30)
	if created != webhooks.MaxSubscriptions || full != 30-webhooks.MaxSubscriptions {
		t.Fatalf("%d created, %d refused; want %d and %d", created, full, webhooks.MaxSubscriptions, 30-webhooks.MaxSubscriptions)
	}
}

// TestTestSendsAreBounded: POST /api/webhooks/{id}/test cannot pile up
// requests to a receiver: with MaxPendingTests test events waiting the
// next is refused (429), and accepted again once one was delivered.
func TestTestSendsAreBounded(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db.Webhooks())
		sub, _, err := svc.Create(ctx, "test", "https://hooks.example.com/in", []string{webhooks.CallEnded})
		if err != nil {
			t.Fatal(err)
		}
		for i := range webhooks.MaxPendingTests {
			if _, err := svc.SendTest(ctx, "test", sub.ID); err != nil {
				t.Fatalf("test send %d: %v", i+1, err)
			}
		}
		if _, err := svc.SendTest(ctx, "test", sub.ID); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("test send past the bound: %v, want rate_limited", err)
		}
		got, err := db.Webhooks().Claim(ctx, "A", time.Now(), time.Minute, 1, nil)
		if err != nil || len(got) != 1 {
			t.Fatalf("claim = %v, %v", got, err)
		}
		if err := db.Webhooks().Finish(ctx, got[0], "A", webhooks.Outcome{State: webhooks.StateDelivered, Status: 204, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SendTest(ctx, "test", sub.ID); err != nil {
			t.Fatalf("test send after a delivery: %v", err)
		}
		if _, err := svc.SendTest(ctx, "test", "wh_00000000000000ff"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("test send to an unknown webhook: %v", err)
		}
	})
}
