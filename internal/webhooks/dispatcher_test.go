package webhooks_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/egress"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
	"github.com/voiceagent/voiceagent/internal/webhooks"
)

// senderFunc is a receiver at the network boundary: it answers each
// signed POST with whatever the test says.
type senderFunc func(ctx context.Context, r egress.Request) egress.Result

func (f senderFunc) Post(ctx context.Context, r egress.Request) egress.Result { return f(ctx, r) }

var day0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// oneTestEvent makes a subscription and queues one webhook.test event
// created at `at`; it returns the service (whose sealer opens the
// subscription's secret) and the subscription id.
func oneTestEvent(t *testing.T, db *store.DB, at time.Time) (*webhooks.Service, string) {
	t.Helper()
	svc := newService(t, db.Webhooks())
	sub, _, err := svc.Create(context.Background(), "test", "https://hooks.example.com/in", []string{webhooks.CallEnded})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Webhooks().EnqueueTest(context.Background(), sub.ID, `{}`, at, webhooks.MaxPendingTests); err != nil {
		t.Fatal(err)
	}
	return svc, sub.ID
}

func lastDelivery(t *testing.T, db *store.DB, id string) webhooks.Delivery {
	t.Helper()
	log, err := db.Webhooks().ListDeliveries(context.Background(), id, 10)
	if err != nil || len(log) != 1 {
		t.Fatalf("delivery log = %+v (%v), want one row", log, err)
	}
	return log[0]
}

// TestLastRetryAtTheDeadline: retries go on for the full 24 hours. An
// attempt failing 20 hours after the event, whose backoff (6 h) would
// carry the next try past the deadline, is retried at the 24th hour
// rather than given up; the attempt at the deadline then gives up.
func TestLastRetryAtTheDeadline(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, id := oneTestEvent(t, db, day0)
		now := day0.Add(20 * time.Hour)
		d := webhooks.NewDispatcher(webhooks.Options{Store: db.Webhooks(), Sealer: svc.Sealer(),
			Sender: senderFunc(func(context.Context, egress.Request) egress.Result {
				return egress.Result{Outcome: egress.Status, Status: 503}
			}),
			Now:     func() time.Time { return now },
			Backoff: func(int) time.Duration { return 6 * time.Hour }})
		if n := d.RunOnce(ctx); n != 1 {
			t.Fatalf("attempts = %d, want 1", n)
		}
		if got := lastDelivery(t, db, id); got.State != webhooks.StateRetrying {
			t.Fatalf("after a failure at 20 h: %s, want retrying", got.State)
		}
		var next int64
		if err := db.SQL.QueryRowContext(ctx, `SELECT next_attempt_at FROM webhook_outbox`).Scan(&next); err != nil {
			t.Fatal(err)
		}
		if got, want := store.FromMillis(next), day0.Add(webhooks.GiveUpAfter); !got.Equal(want) {
			t.Fatalf("next attempt at %v, want the deadline %v", got, want)
		}
		now = day0.Add(webhooks.GiveUpAfter)
		if n := d.RunOnce(ctx); n != 1 {
			t.Fatalf("attempts at the deadline = %d, want 1", n)
		}
		if got := lastDelivery(t, db, id); got.State != webhooks.StateFailed || got.Attempts != 2 {
			t.Fatalf("after the attempt at 24 h: %+v, want failed after 2 attempts", got)
		}
	})
}

// TestAnswerArrivingAtShutdownIsRecorded: a 2xx that arrives as the
// dispatcher is stopped is recorded as delivered; giving the claim back
// would send the event a second time.
func TestAnswerArrivingAtShutdownIsRecorded(t *testing.T) {
	db := storetest.SQLite(t)
	svc, id := oneTestEvent(t, db, time.Now())
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d := webhooks.NewDispatcher(webhooks.Options{Store: db.Webhooks(), Sealer: svc.Sealer(),
		Sender: senderFunc(func(context.Context, egress.Request) egress.Result {
			stop() // the shutdown comes while the answer is on its way
			return egress.Result{Outcome: egress.OK, Status: 204}
		})})
	d.RunOnce(ctx)
	if got := lastDelivery(t, db, id); got.State != webhooks.StateDelivered {
		t.Fatalf("delivery = %+v, want delivered", got)
	}
	if n, _, _ := db.Webhooks().OutboxStats(context.Background()); n != 0 {
		t.Fatalf("outbox rows = %d, want 0 (the delivered event would be sent again)", n)
	}
}

// TestBuildFailureKeepsDriverTextOut: when call.ended's data cannot be
// read (the database failing), the attempt is retried and its error, which
// the delivery log and the live webhook.failed event (calls:read) show,
// holds no driver text such as the database's address.
func TestBuildFailureKeepsDriverTextOut(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	svc := newService(t, db.Webhooks())
	sub, _, err := svc.Create(ctx, "test", "https://hooks.example.com/in", []string{webhooks.CallEnded})
	if err != nil {
		t.Fatal(err)
	}
	c := voice.Call{CallSID: "CA00000000000000000000000000000b01", From: "+15555550116", To: "+15005550006", Decision: voice.Accept,
		Status: "ringing", Active: true, TwiML: "<Response/>", CreatedAt: time.Now()}
	if _, _, err := db.Calls().AdmitCall(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Calls().EndCall(ctx, voice.CallEnd{CallSID: c.CallSID, Reason: voice.EndCallerHangup, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	sent := 0
	d := webhooks.NewDispatcher(webhooks.Options{Store: db.Webhooks(), Sealer: svc.Sealer(),
		Sender: senderFunc(func(context.Context, egress.Request) egress.Result {
			sent++
			return egress.Result{Outcome: egress.OK, Status: 204}
		}),
		Details: func(context.Context, string, bool) (any, error) {
			return nil, fmt.Errorf("read call: dial tcp 10.9.8.7:5432: connect: connection refused")
		},
		Now: func() time.Time { return time.Now().Add(time.Minute) }})
	if n := d.RunOnce(ctx); n != 1 || sent != 0 {
		t.Fatalf("attempts = %d, sent = %d; want 1 attempt, nothing sent", n, sent)
	}
	got := lastDelivery(t, db, sub.ID)
	if got.State != webhooks.StateRetrying || got.Type != webhooks.CallEnded || got.LastError == "" {
		t.Fatalf("delivery = %+v, want a retrying call.ended with a reason", got)
	}
	if strings.Contains(got.LastError, "10.9.8.7") || strings.Contains(got.LastError, "dial tcp") {
		t.Fatalf("lastError = %q holds the driver's text", got.LastError)
	}
}

// flakyClaims fails its first Claim after reading the rows (the store
// returns what it read with the error, as a connection lost midway does).
type flakyClaims struct {
	*store.WebhookStore
	failed bool
}

func (f *flakyClaims) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, n int, skip []string) ([]webhooks.Pending, error) {
	got, err := f.WebhookStore.Claim(ctx, owner, now, lease, n, skip)
	if err == nil && len(got) > 0 && !f.failed {
		f.failed = true
		return got, errors.New("connection lost")
	}
	return got, err
}

// TestClaimedRowsDeliveredDespiteAClaimError: rows a claim leased before
// it failed are delivered at once, not after their lease (an hour here).
func TestClaimedRowsDeliveredDespiteAClaimError(t *testing.T) {
	db := storetest.SQLite(t)
	svc, id := oneTestEvent(t, db, time.Now())
	sent := make(chan struct{}, 1)
	d := webhooks.NewDispatcher(webhooks.Options{Store: &flakyClaims{WebhookStore: db.Webhooks()}, Sealer: svc.Sealer(),
		Sender: senderFunc(func(context.Context, egress.Request) egress.Result {
			sent <- struct{}{}
			return egress.Result{Outcome: egress.OK, Status: 204}
		}),
		Lease: time.Hour, Poll: 10 * time.Millisecond})
	d.Start()
	defer d.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case <-sent:
	case <-ctx.Done():
		t.Fatal("the row leased by the failed claim was not delivered")
	}
	d.Stop()
	if got := lastDelivery(t, db, id); got.State != webhooks.StateDelivered {
		t.Fatalf("delivery = %+v", got)
	}
}

// TestURLCheckedAtEveryAttempt: a webhook stored with an http URL (made
// while the server ran in development) is not sent to by a server whose
// rules refuse it (production): the attempt fails with the reason and
// nothing goes out in clear text.
func TestURLCheckedAtEveryAttempt(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	svc := newService(t, db.Webhooks())
	sub, _, err := svc.Create(ctx, "test", "http://hooks.example.com/in", []string{webhooks.CallEnded})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Webhooks().EnqueueTest(ctx, sub.ID, `{}`, time.Now(), webhooks.MaxPendingTests); err != nil {
		t.Fatal(err)
	}
	sent := 0
	d := webhooks.NewDispatcher(webhooks.Options{Store: db.Webhooks(), Sealer: svc.Sealer(),
		Sender: senderFunc(func(context.Context, egress.Request) egress.Result {
			sent++
			return egress.Result{Outcome: egress.OK, Status: 204}
		}),
		CheckURL: func(u string) error { return egress.CheckURL(u, false, nil) }})
	if n := d.RunOnce(ctx); n != 1 || sent != 0 {
		t.Fatalf("attempts = %d, sent = %d; want 1 attempt, nothing sent", n, sent)
	}
	if got := lastDelivery(t, db, sub.ID); got.State != webhooks.StateRetrying || !strings.Contains(got.LastError, "https") {
		t.Fatalf("delivery = %+v, want a retry saying https is required", got)
	}
}

// TestSlowWebhookLeavesSlotsToOthers: a receiver that does not answer
// holds at most its share of the delivery slots, so another webhook's
// event, queued behind the slow one's backlog, is sent while the slow
// one's attempts still wait for their answers.
func TestSlowWebhookLeavesSlotsToOthers(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		svc := newService(t, db.Webhooks())
		admit := func(i int) {
			c := voice.Call{CallSID: fmt.Sprintf("CA%032x", 0xc00+i), From: "+15555550116", To: "+15005550006", Decision: voice.Accept,
				Status: "ringing", Active: true, TwiML: "<Response/>", CreatedAt: day0}
			if _, _, err := db.Calls().AdmitCall(ctx, c, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := svc.Create(ctx, "test", "https://slow.example.com/in", []string{webhooks.CallStarted}); err != nil {
			t.Fatal(err)
		}
		for i := range 8 { // the slow webhook's backlog: the oldest rows
			admit(i)
		}
		if _, _, err := svc.Create(ctx, "test", "https://fast.example.com/in", []string{webhooks.CallStarted}); err != nil {
			t.Fatal(err)
		}
		admit(8) // one row for each webhook, the fast one's last of all

		var slowWaiting atomic.Int32
		fastSent := make(chan struct{}, 1)
		d := webhooks.NewDispatcher(webhooks.Options{Store: db.Webhooks(), Sealer: svc.Sealer(), Concurrency: 4, Poll: 10 * time.Millisecond,
			Now: func() time.Time { return day0.Add(time.Minute) },
			Sender: senderFunc(func(ctx context.Context, r egress.Request) egress.Result {
				if strings.Contains(r.URL, "slow") {
					slowWaiting.Add(1)
					defer slowWaiting.Add(-1)
					<-ctx.Done() // never answers
					return egress.Result{Outcome: egress.Timeout, Reason: "no answer in time"}
				}
				select {
				case fastSent <- struct{}{}:
				default:
				}
				return egress.Result{Outcome: egress.OK, Status: 204}
			})})
		d.Start()
		defer d.Stop()
		select {
		case <-fastSent:
		case <-ctx.Done():
			t.Fatalf("the other webhook's event was never sent; the slow webhook holds %d attempts", slowWaiting.Load())
		}
		if n := slowWaiting.Load(); n > 2 {
			t.Fatalf("the slow webhook holds %d of 4 slots, want at most 2", n)
		}
	})
}
