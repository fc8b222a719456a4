package store_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
	"github.com/voiceagent/voiceagent/internal/webhooks"
)

func subscribe(t *testing.T, db *store.DB, id string, events ...string) {
	t.Helper()
	err := db.Webhooks().InsertSubscription(context.Background(), webhooks.Subscription{ID: id, URL: "https://hooks.example.test/x", Events: events, CreatedAt: t0}, []byte("sealed"), webhooks.MaxSubscriptions)
	if err != nil {
		t.Fatal(err)
	}
}

// outboxTypes lists the outbox rows as "type callSid" in id order.
func outboxTypes(t *testing.T, db *store.DB) []string {
	t.Helper()
	rows, err := db.SQL.Query(`SELECT type, call_sid, subscription_id FROM webhook_outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var typ, sid, sub string
		if err := rows.Scan(&typ, &sid, &sub); err != nil {
			t.Fatal(err)
		}
		out = append(out, typ+" "+sid+" "+sub)
	}
	return out
}

// TestOutboxWrittenWithTheStateChange: admissions write call.started or
// call.refused, the first end of an accepted call writes call.ended, a
// failed tool call and a security alert write theirs with their audit
// rows; one row per subscription that wants the type, none without one,
// none for a retry or a second end.
func TestOutboxWrittenWithTheStateChange(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Calls()
		// No subscription: nothing is written.
		c0 := acceptedCall(200, "")
		if _, _, err := s.AdmitCall(ctx, c0, nil); err != nil {
			t.Fatal(err)
		}
		if got := outboxTypes(t, db); len(got) != 0 {
			t.Fatalf("outbox without subscriptions = %v", got)
		}
		subscribe(t, db, "wh_000000000000000a", webhooks.CallStarted, webhooks.CallEnded, webhooks.CallRefused)
		subscribe(t, db, "wh_000000000000000b", webhooks.CallEnded, webhooks.ToolFailed, webhooks.SecurityAlert)

		c1 := acceptedCall(201, "")
		if _, _, err := s.AdmitCall(ctx, c1, capacity(2, c1)); err != nil {
			t.Fatal(err)
		}
		c2 := acceptedCall(202, "") // over capacity (c0 and c1 hold the slots): refused
		if got, _, err := s.AdmitCall(ctx, c2, capacity(2, c2)); err != nil || got.Decision != voice.Busy {
			t.Fatalf("second admission = %v, %v", got.Decision, err)
		}
		if _, created, err := s.AdmitCall(ctx, c1, capacity(1, c1)); err != nil || created {
			t.Fatalf("retry = %v, %v", created, err)
		}
		if ended, err := s.EndCall(ctx, voice.CallEnd{CallSID: c1.CallSID, Reason: voice.EndCallerHangup, At: t0.Add(time.Minute)}); err != nil || !ended {
			t.Fatalf("end = %v, %v", ended, err)
		}
		if _, err := s.EndCall(ctx, voice.CallEnd{CallSID: c1.CallSID, Reason: voice.EndCallerHangup, At: t0.Add(2 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateCallStatus(ctx, voice.StatusUpdate{CallSID: c1.CallSID, Status: "completed", Sequence: -1, At: t0.Add(3 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		// The refused call's final status ends it: no call.ended.
		if _, err := s.UpdateCallStatus(ctx, voice.StatusUpdate{CallSID: c2.CallSID, Status: "busy", Sequence: -1, At: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		// An accepted call ended by its status callback.
		c3 := acceptedCall(203, "")
		if _, _, err := s.AdmitCall(ctx, c3, nil); err != nil {
			t.Fatal(err)
		}
		if ended, err := s.UpdateCallStatus(ctx, voice.StatusUpdate{CallSID: c3.CallSID, Status: "completed", Sequence: -1, At: t0.Add(time.Minute)}); err != nil || !ended {
			t.Fatalf("status end = %v, %v", ended, err)
		}
		err := db.Audit().InsertAuditEvents(ctx, []audit.Event{
			{Type: audit.TypeToolCall, CallSID: c3.CallSID, Time: t0, Detail: map[string]any{"tool": "check_order", "outcome": "ok"}},
			{Type: audit.TypeToolCall, CallSID: c3.CallSID, Time: t0, Detail: map[string]any{"tool": "check_order", "outcome": "timeout"}},
			{Type: audit.TypeSecurityAlert, Time: t0, Detail: map[string]any{"alert": "auth_lockout"}},
			{Type: audit.TypeAuthFailure, Time: t0},
		})
		if err != nil {
			t.Fatal(err)
		}
		a, b := " wh_000000000000000a", " wh_000000000000000b"
		want := []string{
			"call.started " + c1.CallSID + a,
			"call.refused " + c2.CallSID + a,
			"call.ended " + c1.CallSID + a, "call.ended " + c1.CallSID + b,
			"call.started " + c3.CallSID + a,
			"call.ended " + c3.CallSID + a, "call.ended " + c3.CallSID + b,
			"tool.failed " + c3.CallSID + b,
			"security.alert " + b,
		}
		got := outboxTypes(t, db)
		if len(got) != len(want) {
			t.Fatalf("outbox =\n%v\nwant\n%v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("outbox[%d] = %q, want %q (all %v)", i, got[i], want[i], got)
			}
		}
	})
}

// TestOutboxBatchAdmissions: concurrent admissions (batched, on
// PostgreSQL in one INSERT) write one event each.
func TestOutboxBatchAdmissions(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		subscribe(t, db, "wh_000000000000000a", webhooks.CallStarted, webhooks.CallRefused)
		const n = 40
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := acceptedCall(300+i, "")
				if _, _, err := db.Calls().AdmitCall(context.Background(), c, capacity(n/2, c)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		var started, refused int
		for _, r := range outboxTypes(t, db) {
			switch r[:12] {
			case "call.started":
				started++
			case "call.refused":
				refused++
			}
		}
		if started != n/2 || refused != n/2 {
			t.Fatalf("started %d, refused %d; want %d each", started, refused, n/2)
		}
	})
}

func enqueueTest(t *testing.T, db *store.DB, sub string, at time.Time) string {
	t.Helper()
	dlv, err := db.Webhooks().EnqueueTest(context.Background(), sub, `{}`, at, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return dlv
}

// TestOutboxClaimOrderAndLease: the second event of a call waits for the
// first; a claim holds its lease against another owner and expires with
// it; Finish by a former owner changes nothing.
func TestOutboxClaimOrderAndLease(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := db.Webhooks()
		subscribe(t, db, "wh_000000000000000a", webhooks.CallStarted, webhooks.CallEnded)
		c := acceptedCall(400, "")
		if _, _, err := db.Calls().AdmitCall(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Calls().EndCall(ctx, voice.CallEnd{CallSID: c.CallSID, Reason: voice.EndCallerHangup, At: t0.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
		now := t0.Add(time.Minute)
		got, err := w.Claim(ctx, "A", now, time.Minute, 10, nil)
		if err != nil || len(got) != 1 || got[0].Type != webhooks.CallStarted {
			t.Fatalf("first claim = %+v, %v; want call.started only", got, err)
		}
		if again, _ := w.Claim(ctx, "B", now, time.Minute, 10, nil); len(again) != 0 {
			t.Fatalf("B claimed %+v while A holds the lease", again)
		}
		// A's lease ends: B takes the row; A's late outcome is ignored.
		later := now.Add(2 * time.Minute)
		taken, err := w.Claim(ctx, "B", later, time.Minute, 10, nil)
		if err != nil || len(taken) != 1 || taken[0].ID != got[0].ID {
			t.Fatalf("B after the lease = %+v, %v", taken, err)
		}
		if err := w.Finish(ctx, got[0], "A", webhooks.Outcome{State: webhooks.StateDelivered, Status: 200, At: later}); err != nil {
			t.Fatal(err)
		}
		if n := rowCount(t, db, `SELECT COUNT(*) FROM webhook_outbox`); n != 2 {
			t.Fatalf("outbox rows after a stale finish = %d, want 2", n)
		}
		// B retries it: rescheduled, lease released; the call.ended still waits.
		if err := w.Finish(ctx, taken[0], "B", webhooks.Outcome{State: webhooks.StateRetrying, Status: 500, Error: "answered 500", At: later, NextAttempt: later.Add(30 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		if none, _ := w.Claim(ctx, "C", later.Add(10*time.Second), time.Minute, 10, nil); len(none) != 0 {
			t.Fatalf("claimed %+v before the retry is due (or out of order)", none)
		}
		retry, _ := w.Claim(ctx, "C", later.Add(30*time.Second), time.Minute, 10, nil)
		if len(retry) != 1 || retry[0].Attempts != 1 || retry[0].Type != webhooks.CallStarted {
			t.Fatalf("retry claim = %+v", retry)
		}
		if err := w.Finish(ctx, retry[0], "C", webhooks.Outcome{State: webhooks.StateDelivered, Status: 204, At: later.Add(31 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		next, _ := w.Claim(ctx, "C", later.Add(31*time.Second), time.Minute, 10, nil)
		if len(next) != 1 || next[0].Type != webhooks.CallEnded {
			t.Fatalf("after the first is delivered = %+v, want call.ended", next)
		}
		log, err := w.ListDeliveries(ctx, "wh_000000000000000a", 10)
		if err != nil || len(log) != 1 || log[0].State != webhooks.StateDelivered || log[0].Attempts != 2 || log[0].LastStatus != 204 {
			t.Fatalf("delivery log = %+v, %v", log, err)
		}
	})
}

// TestOutboxGoneDisables: a 410 disables the subscription, drops its
// other pending rows (logged as dropped) and no new event is written
// for it.
func TestOutboxGoneDisables(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := db.Webhooks()
		subscribe(t, db, "wh_000000000000000a", webhooks.CallStarted)
		enqueueTest(t, db, "wh_000000000000000a", t0)
		enqueueTest(t, db, "wh_000000000000000a", t0)
		got, err := w.Claim(ctx, "A", t0, time.Minute, 1, nil)
		if err != nil || len(got) != 1 {
			t.Fatalf("claim = %v, %v", got, err)
		}
		if err := w.Finish(ctx, got[0], "A", webhooks.Outcome{State: webhooks.StateDisabled, Status: 410, At: t0}); err != nil {
			t.Fatal(err)
		}
		sub, err := w.GetSubscription(ctx, "wh_000000000000000a")
		if err != nil || sub.DisabledAt == nil {
			t.Fatalf("subscription = %+v, %v; want disabled", sub, err)
		}
		if n := rowCount(t, db, `SELECT COUNT(*) FROM webhook_outbox`); n != 0 {
			t.Fatalf("outbox rows of a disabled subscription = %d", n)
		}
		log, _ := w.ListDeliveries(ctx, "wh_000000000000000a", 10)
		var states []string
		for _, d := range log {
			states = append(states, d.State)
		}
		sort.Strings(states)
		if len(states) != 2 || states[0] != webhooks.StateDisabled || states[1] != webhooks.StateDropped {
			t.Fatalf("log states = %v", states)
		}
		if _, _, err := db.Calls().AdmitCall(ctx, acceptedCall(500, ""), nil); err != nil {
			t.Fatal(err)
		}
		if n := rowCount(t, db, `SELECT COUNT(*) FROM webhook_outbox`); n != 0 {
			t.Fatalf("an event was written for a disabled subscription")
		}
	})
}

// TestOutboxConcurrentClaimsPostgres: claimers of two instances racing
// on one outbox (FOR UPDATE SKIP LOCKED) never take the same row.
func TestOutboxConcurrentClaimsPostgres(t *testing.T) {
	dbA, url := storetest.PostgresURL(t)
	dbB, err := store.Open(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer dbB.Close()
	subscribe(t, dbA, "wh_000000000000000a", webhooks.CallStarted)
	const n = 200
	for range n {
		enqueueTest(t, dbA, "wh_000000000000000a", t0)
	}
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for i, db := range []*store.DB{dbA, dbB, dbA, dbB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := string(rune('A' + i))
			for {
				got, err := db.Webhooks().Claim(context.Background(), owner, t0, time.Minute, 7, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, p := range got {
					if prev, dup := seen[p.ID]; dup {
						t.Errorf("row %d claimed by %s and %s", p.ID, prev, owner)
					}
					seen[p.ID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("claimed %d rows, want %d", len(seen), n)
	}
}

// TestWebhookLogRetentionAndDelete: the delivery log is trimmed by age;
// deleting a subscription drops its pending rows.
func TestWebhookLogRetentionAndDelete(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := db.Webhooks()
		subscribe(t, db, "wh_000000000000000a", webhooks.CallStarted)
		for _, at := range []time.Time{t0, t0.Add(8 * 24 * time.Hour)} {
			enqueueTest(t, db, "wh_000000000000000a", at)
			got, err := w.Claim(ctx, "A", at, time.Minute, 1, nil)
			if err != nil || len(got) != 1 {
				t.Fatalf("claim = %v, %v", got, err)
			}
			if err := w.Finish(ctx, got[0], "A", webhooks.Outcome{State: webhooks.StateDelivered, Status: 200, At: at}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := w.DeleteDeliveriesBefore(ctx, t0.Add(8*24*time.Hour).Add(-webhooks.LogRetention))
		if err != nil || n != 1 {
			t.Fatalf("trimmed %d (%v), want the old row", n, err)
		}
		if log, _ := w.ListDeliveries(ctx, "wh_000000000000000a", 10); len(log) != 1 {
			t.Fatalf("log = %+v, want the recent row", log)
		}
		enqueueTest(t, db, "wh_000000000000000a", t0)
		if err := w.DeleteSubscription(ctx, "wh_000000000000000a"); err != nil {
			t.Fatal(err)
		}
		if n := rowCount(t, db, `SELECT COUNT(*) FROM webhook_outbox`); n != 0 {
			t.Fatalf("outbox rows of a deleted subscription = %d", n)
		}
		if err := w.DeleteSubscription(ctx, "wh_000000000000000a"); err == nil {
			t.Fatal("deleting twice succeeded")
		}
	})
}
