package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/calllog"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// Finding 5: a call that waited past the pending-slot TTL between its
// decision and its stream lost its slot to newer calls; its stream must
// not run over the cap, and the active list must match the streams.
func TestClaimStreamSlotAfterStalePendingSlot(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Calls()
		late := acceptedCall(1, "")
		late.CreatedAt = t0.Add(-3 * time.Minute) // decided, stream not yet started
		if _, _, err := s.AdmitCall(ctx, late, capacity(2, late)); err != nil {
			t.Fatal(err)
		}
		// The sweep frees the stale slot; two newer calls fill the cap.
		if freed, err := s.FreeStaleSlots(ctx, t0.Add(-2*time.Minute), t0.Add(-time.Hour)); err != nil || freed != 1 {
			t.Fatalf("FreeStaleSlots = %d, %v; want 1", freed, err)
		}
		for n := 2; n <= 3; n++ {
			c := acceptedCall(n, "")
			if got, _, err := s.AdmitCall(ctx, c, capacity(2, c)); err != nil || got.Decision != voice.Accept {
				t.Fatalf("call %d = %v, %v", n, got.Decision, err)
			}
		}
		if ok, err := s.ClaimStreamSlot(ctx, late.CallSID, capacity(2, voice.Call{}), t0); err != nil || ok {
			t.Fatalf("claim for the late stream with the cap taken = %v, %v; want refused", ok, err)
		}
		if ok, err := s.ClaimStreamSlot(ctx, sid(2), capacity(2, voice.Call{}), t0); err != nil || !ok {
			t.Fatalf("claim for a call holding its slot = %v, %v", ok, err)
		}
		active, err := db.CallList().ListCalls(ctx, calllog.Filter{Status: "active", Limit: 10})
		if err != nil || len(active) != 2 {
			t.Fatalf("active calls = %d, %v; want 2", len(active), err)
		}

		// Once a slot is free, the late call is re-admitted under the cap.
		if _, err := s.EndCall(ctx, voice.CallEnd{CallSID: sid(3), Reason: voice.EndCallerHangup, At: t0}); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.ClaimStreamSlot(ctx, late.CallSID, capacity(2, voice.Call{}), t0); err != nil || !ok {
			t.Fatalf("claim with a free slot = %v, %v; want re-admitted", ok, err)
		}
		if c, _ := s.FindCall(ctx, late.CallSID, ""); !c.Active {
			t.Fatal("the re-admitted call does not hold a slot")
		}
		// Its slot is no longer taken for a stale pending one by the sweep.
		if _, err := s.FreeStaleSlots(ctx, t0.Add(-2*time.Minute), t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		c4 := acceptedCall(4, "")
		if got, _, err := s.AdmitCall(ctx, c4, capacity(2, c4)); err != nil || got.Decision != voice.Busy {
			t.Fatalf("admission over the cap after re-admission = %v, %v; want busy", got.Decision, err)
		}
		if c, _ := s.FindCall(ctx, late.CallSID, ""); !c.Active {
			t.Fatal("the re-admitted call lost its slot to the sweep")
		}
		// An ended or unknown call never gets a stream.
		if ok, _ := s.ClaimStreamSlot(ctx, sid(3), nil, t0); ok {
			t.Fatal("an ended call got a stream slot")
		}
		if ok, _ := s.ClaimStreamSlot(ctx, sid(77), nil, t0); ok {
			t.Fatal("an unknown call got a stream slot")
		}
	})
}
