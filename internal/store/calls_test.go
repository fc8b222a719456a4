package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

var t0 = time.UnixMilli(1_700_000_000_000).UTC()

func sid(n int) string { return fmt.Sprintf("CA%032x", n) }

func acceptedCall(n int, idem string) voice.Call {
	return voice.Call{
		CallSID: sid(n), From: "+15555550100", To: "+15555550199", FromCountry: "US",
		Decision: voice.Accept, Status: "ringing", Active: true, TwiML: "<Response>accept</Response>",
		IdempotencyKey: idem, CreatedAt: t0,
	}
}

func capacity(max int, overflowOf voice.Call) *voice.Capacity {
	over := overflowOf
	over.Decision, over.Reason, over.Active, over.TwiML = voice.Busy, voice.ReasonCapacity, false, "<Response>busy</Response>"
	return &voice.Capacity{Max: max, Overflow: over}
}

func TestCallStoreAdmitDedupAndCapacity(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Calls()

		c1 := acceptedCall(1, "idem-1")
		got, created, err := s.AdmitCall(ctx, c1, capacity(1, c1))
		if err != nil || !created || got.Decision != voice.Accept {
			t.Fatalf("first admit = %v, %v, %v", got.Decision, created, err)
		}
		// A retry (same CallSid, or same idempotency key) returns the row.
		again, created, err := s.AdmitCall(ctx, c1, capacity(1, c1))
		if err != nil || created || again.TwiML != c1.TwiML {
			t.Fatalf("retry admit = %+v, %v, %v", again, created, err)
		}
		byKey, err := s.FindCall(ctx, sid(99), "idem-1")
		if err != nil || byKey.CallSID != c1.CallSID {
			t.Fatalf("FindCall by key = %v, %v", byKey.CallSID, err)
		}
		if _, err := s.FindCall(ctx, sid(98), ""); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("FindCall unknown: %v", err)
		}

		// Over the cap: the overflow row is stored, the live call untouched.
		c2 := acceptedCall(2, "")
		got, created, err = s.AdmitCall(ctx, c2, capacity(1, c2))
		if err != nil || !created || got.Decision != voice.Busy || got.Reason != voice.ReasonCapacity {
			t.Fatalf("over capacity = %+v, %v, %v", got, created, err)
		}
		live, _ := s.FindCall(ctx, c1.CallSID, "")
		if !live.Active || live.EndedAt != nil {
			t.Fatalf("live call changed: %+v", live)
		}

		// A completed call frees its slot.
		d := int64(42)
		if _, err := s.UpdateCallStatus(ctx, voice.StatusUpdate{CallSID: c1.CallSID, Status: "completed", DurationSec: &d, Sequence: 3, At: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		c3 := acceptedCall(3, "")
		if got, _, err = s.AdmitCall(ctx, c3, capacity(1, c3)); err != nil || got.Decision != voice.Accept {
			t.Fatalf("after completion = %v, %v", got.Decision, err)
		}
		ended, _ := s.FindCall(ctx, c1.CallSID, "")
		if ended.Active || ended.Status != "completed" || ended.EndedAt == nil || ended.DurationSec == nil || *ended.DurationSec != 42 {
			t.Fatalf("completed call = %+v", ended)
		}
		// An older callback arriving late changes nothing.
		if _, err := s.UpdateCallStatus(ctx, voice.StatusUpdate{CallSID: c1.CallSID, Status: "in-progress", Sequence: 1, At: t0}); err != nil {
			t.Fatal(err)
		}
		if late, _ := s.FindCall(ctx, c1.CallSID, ""); late.Status != "completed" {
			t.Fatalf("late callback applied: %v", late.Status)
		}
		if _, err := s.UpdateCallStatus(ctx, voice.StatusUpdate{CallSID: sid(97), Status: "completed", Sequence: 0, At: t0}); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("unknown call status: %v", err)
		}

		// Stale slots (issue 17): at the cap, an admission answers busy
		// from the counter, even when a slot is stale (c3 never streamed):
		// it does not scan the live calls. The sweep frees the slot, with
		// no admission, and the next call is admitted.
		c4 := acceptedCall(4, "")
		if got, _, err = s.AdmitCall(ctx, c4, capacity(1, c4)); err != nil || got.Decision != voice.Busy {
			t.Fatalf("at the cap with a stale slot = %v, %v; want busy (no scan per admission)", got.Decision, err)
		}
		if freed, err := s.FreeStaleSlots(ctx, t0.Add(time.Second), t0.Add(-time.Hour)); err != nil || freed != 1 {
			t.Fatalf("FreeStaleSlots = %d, %v; want 1", freed, err)
		}
		if c, _ := s.FindCall(ctx, c3.CallSID, ""); c.Active {
			t.Fatal("the stale slot was not freed by the sweep")
		}
		c5 := acceptedCall(5, "")
		if got, _, err = s.AdmitCall(ctx, c5, capacity(1, c5)); err != nil || got.Decision != voice.Accept {
			t.Fatalf("after the sweep = %v, %v; want accepted", got.Decision, err)
		}
		if freed, err := s.FreeStaleSlots(ctx, t0.Add(-time.Second), t0.Add(-time.Hour)); err != nil || freed != 0 {
			t.Fatalf("FreeStaleSlots of fresh slots = %d, %v; want 0", freed, err)
		}

		// Stream lifecycle.
		if err := s.MarkStreamStarted(ctx, c3.CallSID, t0.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		if ended, err := s.EndCall(ctx, voice.CallEnd{CallSID: c3.CallSID, Reason: voice.EndCallerHangup, At: t0.Add(time.Minute)}); err != nil || !ended {
			t.Fatal(err)
		}
		c3r, _ := s.FindCall(ctx, c3.CallSID, "")
		if c3r.Active || c3r.AnsweredAt == nil || c3r.EndedAt == nil || c3r.Status != "in-progress" {
			t.Fatalf("after lifecycle = %+v", c3r)
		}
		if _, err := s.EndCall(ctx, voice.CallEnd{CallSID: sid(96), Reason: voice.EndCallerHangup, At: t0}); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("end unknown: %v", err)
		}
	})
}

// TestCallStoreCapacityConcurrent admits many calls at once through
// separate connections: the cap holds exactly.
func TestCallStoreCapacityConcurrent(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Calls()
		const n, max = 16, 5
		var wg sync.WaitGroup
		decisions := make([]voice.Decision, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := acceptedCall(100+i, "")
				got, _, err := s.AdmitCall(ctx, c, capacity(max, c))
				decisions[i], errs[i] = got.Decision, err
			}()
		}
		wg.Wait()
		accepted := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("admit %d: %v", i, errs[i])
			}
			if decisions[i] == voice.Accept {
				accepted++
			}
		}
		if accepted != max {
			t.Fatalf("accepted = %d, want %d", accepted, max)
		}
	})
}

func TestStreamTokens(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Calls()
		put := func(hash string) error {
			return s.PutStreamToken(ctx, voice.StreamToken{Hash: hash, CallSID: sid(1), CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)})
		}
		if err := put("h1"); err != nil {
			t.Fatal(err)
		}
		// A retry replaces the unused token: the old one dies.
		if err := put("h2"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UseStreamToken(ctx, "h1", t0); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("replaced token: %v", err)
		}
		if _, err := s.UseStreamToken(ctx, "h2", t0.Add(time.Minute)); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("expired token: %v", err)
		}
		got, err := s.UseStreamToken(ctx, "h2", t0.Add(time.Second))
		if err != nil || got != sid(1) {
			t.Fatalf("redeem = %q, %v", got, err)
		}
		if _, err := s.UseStreamToken(ctx, "h2", t0.Add(2*time.Second)); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("second redeem: %v", err)
		}
		if err := put("h3"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("put after use: %v", err)
		}
		// Only the hash is stored.
		var n int
		if err := db.SQL.QueryRowContext(ctx, `SELECT COUNT(*) FROM stream_tokens WHERE twiml <> ''`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("stored TwiML rows = %d, %v", n, err)
		}
	})
}

func TestCallerStore(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Callers()
		if err := s.SyncEnvCallers(ctx, voice.ListBlocked, []string{"+15555550101", "+15555550102"}, t0); err != nil {
			t.Fatal(err)
		}
		created, err := s.AddCaller(ctx, voice.ListEntry{List: voice.ListBlocked, Number: "+15555550103", Source: voice.SourceAPI, CreatedAt: t0})
		if err != nil || !created {
			t.Fatalf("add = %v, %v", created, err)
		}
		if created, err := s.AddCaller(ctx, voice.ListEntry{List: voice.ListBlocked, Number: "+15555550103", Source: voice.SourceAPI, CreatedAt: t0}); err != nil || created {
			t.Fatalf("add again = %v, %v", created, err)
		}
		// Re-sync drops env entries no longer configured, keeps API ones.
		if err := s.SyncEnvCallers(ctx, voice.ListBlocked, []string{"+15555550102"}, t0); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListCallers(ctx, voice.ListBlocked)
		if err != nil || len(list) != 2 || list[0].Number != "+15555550102" || list[0].Source != voice.SourceEnv ||
			list[1].Number != "+15555550103" || list[1].Source != voice.SourceAPI || !list[1].CreatedAt.Equal(t0) {
			t.Fatalf("list = %+v, %v", list, err)
		}
		listed, size, err := s.CallerListed(ctx, voice.ListBlocked, "+15555550103")
		if err != nil || !listed || size != 2 {
			t.Fatalf("listed = %v %d %v", listed, size, err)
		}
		listed, size, err = s.CallerListed(ctx, voice.ListAllowed, "+15555550103")
		if err != nil || listed || size != 0 {
			t.Fatalf("allowed = %v %d %v", listed, size, err)
		}
		if err := s.RemoveCaller(ctx, voice.ListBlocked, "+15555550103"); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveCaller(ctx, voice.ListBlocked, "+15555550103"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("remove twice: %v", err)
		}
		if empty, err := s.ListCallers(ctx, voice.ListAllowed); err != nil || empty == nil || len(empty) != 0 {
			t.Fatalf("empty list = %#v, %v", empty, err)
		}
	})
}

// TestCallCapacityCounterFollowsRows checks the trigger-kept counter
// against a real count after every kind of change to calls.active
// (admission, status callback, stream end, stale-slot release, delete).
func TestCallCapacityCounterFollowsRows(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Calls()
		check := func(step string) {
			t.Helper()
			var counter, rows int64
			if err := db.SQL.QueryRowContext(ctx, `SELECT active FROM call_capacity WHERE id = 1`).Scan(&counter); err != nil {
				t.Fatal(err)
			}
			if err := db.SQL.QueryRowContext(ctx, `SELECT COUNT(*) FROM calls WHERE active = 1`).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if counter != rows {
				t.Fatalf("%s: counter = %d, active rows = %d", step, counter, rows)
			}
		}
		check("empty")
		for i := range 4 {
			c := acceptedCall(200+i, "")
			if _, _, err := s.AdmitCall(ctx, c, capacity(10, c)); err != nil {
				t.Fatal(err)
			}
		}
		check("four admitted")
		if _, err := s.UpdateCallStatus(ctx, voice.StatusUpdate{CallSID: sid(200), Status: "completed", Sequence: 1, At: t0}); err != nil {
			t.Fatal(err)
		}
		check("status completed")
		// The stream of a call Twilio already reported completed: recorded,
		// but not what ended the call.
		if ended, err := s.EndCall(ctx, voice.CallEnd{CallSID: sid(200), Reason: voice.EndCallerHangup, At: t0}); err != nil || ended {
			t.Fatalf("stream end after the final callback = %v, %v; want false, nil", ended, err)
		}
		if ended, err := s.EndCall(ctx, voice.CallEnd{CallSID: sid(201), Reason: voice.EndCallerHangup, At: t0}); err != nil || !ended {
			t.Fatal(err)
		}
		if ended, err := s.EndCall(ctx, voice.CallEnd{CallSID: sid(201), Reason: voice.EndCallerHangup, At: t0}); err != nil || ended {
			t.Fatal(err)
		}
		check("stream ended twice")
		if _, err := db.SQL.ExecContext(ctx, `DELETE FROM calls WHERE call_sid = $1`, sid(202)); err != nil {
			t.Fatal(err)
		}
		check("deleted")
		// The sweep frees the stale slots (no stream, created before the
		// cutoff).
		if _, err := s.FreeStaleSlots(ctx, t0.Add(time.Second), t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		check("stale slot released")
	})
}

// TestCallStoreConcurrentRetries delivers the same call many times at
// once: one row, every delivery answered with it, no error.
func TestCallStoreConcurrentRetries(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Calls()
		c := acceptedCall(300, "idem-300")
		const n = 12
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := 0
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, fresh, err := s.AdmitCall(ctx, c, capacity(5, c))
				mu.Lock()
				defer mu.Unlock()
				if err != nil || got.CallSID != c.CallSID || got.TwiML != c.TwiML {
					t.Errorf("delivery = %+v, %v", got, err)
				}
				if fresh {
					created++
				}
			}()
		}
		wg.Wait()
		if created != 1 {
			t.Fatalf("created = %d, want 1", created)
		}
		var rows int
		if err := db.SQL.QueryRowContext(ctx, `SELECT COUNT(*) FROM calls WHERE call_sid = $1`, c.CallSID).Scan(&rows); err != nil || rows != 1 {
			t.Fatalf("rows = %d, %v", rows, err)
		}
	})
}

// TestUpdateCallStatusReportsTheEnd: UpdateCallStatus says whether the
// callback is what ended the call, so call.ended is announced once
// whoever records the end first (the relay or the status callback).
func TestUpdateCallStatusReportsTheEnd(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Calls()
		status := func(callSID, st string, seq int64) bool {
			t.Helper()
			d := int64(7)
			ended, err := s.UpdateCallStatus(ctx, voice.StatusUpdate{CallSID: callSID, Status: st, DurationSec: &d, Sequence: seq, At: t0.Add(time.Minute)})
			if err != nil {
				t.Fatalf("status %s %s: %v", callSID, st, err)
			}
			return ended
		}
		admit := func(c voice.Call) {
			t.Helper()
			if _, _, err := s.AdmitCall(ctx, c, nil); err != nil {
				t.Fatal(err)
			}
		}

		// Progress does not end a call; the first final status does, and
		// a repeat of it (same or no sequence number) does not again.
		admit(acceptedCall(400, ""))
		if status(sid(400), "in-progress", 1) {
			t.Fatal("in-progress reported as the end")
		}
		if !status(sid(400), "completed", 2) {
			t.Fatal("completed on an open call: ended = false, want true")
		}
		if c, _ := s.FindCall(ctx, sid(400), ""); c.EndedAt == nil || c.Active || c.Status != "completed" {
			t.Fatalf("after completed = %+v", c)
		}
		if status(sid(400), "completed", -1) || status(sid(400), "completed", 3) {
			t.Fatal("a second final status reported the end again")
		}
		if status(sid(400), "ringing", 1) {
			t.Fatal("a late callback reported the end")
		}

		// A rejected call never streams: its final callback ends it.
		rejected := acceptedCall(401, "")
		rejected.Decision, rejected.Reason, rejected.Active = voice.Reject, voice.ReasonBlockedNumber, false
		admit(rejected)
		if !status(sid(401), "busy", -1) {
			t.Fatal("busy on a rejected call: ended = false, want true")
		}

		// The relay recorded the end first: the callback still applies
		// its status and duration but is not the end.
		admit(acceptedCall(402, ""))
		if err := s.MarkStreamStarted(ctx, sid(402), t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EndCall(ctx, voice.CallEnd{CallSID: sid(402), Reason: voice.EndCallerHangup, At: t0.Add(30 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		if status(sid(402), "completed", 5) {
			t.Fatal("completed after the relay's end: ended = true, want false")
		}
		if c, _ := s.FindCall(ctx, sid(402), ""); c.Status != "completed" || c.DurationSec == nil || *c.DurationSec != 7 {
			t.Fatalf("after the relay's end and completed = %+v", c)
		}

		// Duplicate final callbacks delivered at once (separate
		// connections): exactly one of them ended the call.
		const calls, copies = 6, 3
		for i := range calls {
			admit(acceptedCall(410+i, ""))
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ends := map[string]int{}
		for i := range calls {
			for range copies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ended, err := s.UpdateCallStatus(ctx, voice.StatusUpdate{CallSID: sid(410 + i), Status: "completed", Sequence: -1, At: t0})
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Errorf("concurrent status: %v", err)
					}
					if ended {
						ends[sid(410+i)]++
					}
				}()
			}
		}
		wg.Wait()
		for i := range calls {
			if n := ends[sid(410+i)]; n != 1 {
				t.Errorf("call %d: %d callbacks reported the end, want 1", i, n)
			}
		}
	})
}

// The story columns (agent, direction, who placed it, end reason, context)
// go in with the admission and come back from every read, on both engines
// and through both insert paths (one admission, and a concurrent batch).
func TestCallStoryColumnsRoundTrip(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Calls()
		out := acceptedCall(1, "")
		out.AgentID, out.Direction, out.PlacedBy, out.Context = "agt_1", voice.DirectionOutbound, "ops", "Remind Ana"
		if _, _, err := s.AdmitCall(ctx, out, nil); err != nil {
			t.Fatal(err)
		}
		in := acceptedCall(2, "")
		var wg sync.WaitGroup
		for n := 3; n < 10; n++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := acceptedCall(n, "")
				c.AgentID, c.Direction, c.PlacedBy = "agt_batch", voice.DirectionOutbound, fmt.Sprint("tok", n)
				if _, _, err := s.AdmitCall(ctx, c, nil); err != nil {
					t.Error(err)
				}
			}()
		}
		if _, _, err := s.AdmitCall(ctx, in, nil); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		got, err := s.FindCall(ctx, out.CallSID, "")
		if err != nil || got.AgentID != "agt_1" || got.Direction != voice.DirectionOutbound || got.PlacedBy != "ops" ||
			got.Context != "Remind Ana" || got.EndReason != "" {
			t.Fatalf("outbound call = %+v, %v", got, err)
		}
		if got, err := s.FindCall(ctx, in.CallSID, ""); err != nil || got.Direction != voice.DirectionInbound {
			t.Fatalf("a call without a direction is stored as inbound: %q, %v", got.Direction, err)
		}
		for n := 3; n < 10; n++ {
			got, err := s.FindCall(ctx, sid(n), "")
			if err != nil || got.AgentID != "agt_batch" || got.PlacedBy != fmt.Sprint("tok", n) || got.Direction != voice.DirectionOutbound {
				t.Fatalf("batched call %d = %+v, %v", n, got, err)
			}
		}
	})
}
