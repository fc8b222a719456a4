package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// TestEraseOutboundCalls: an outbound call to the subject (to_number) is
// found and deleted with its context; another outbound call whose context
// mentions the subject's number in a written form keeps its row with the
// mention replaced and every other number untouched; the export lists
// exactly those rows. The rate counters hold no number (a keyed hash), so
// there is nothing of the subject in them to erase. On both engines.
func TestEraseOutboundCalls(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const (
			subject = "+14155550123"
			other   = "+14155550124"
			from    = "+14155550100"
			sidA    = "CA00000000000000000000000000000a01"
			sidB    = "CA00000000000000000000000000000b02"
		)
		now := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
		for _, c := range []voice.Call{
			{CallSID: sidA, From: from, To: subject, Decision: voice.Accept, Status: "queued", Active: true, CreatedAt: now,
				Direction: voice.DirectionOutbound, PlacedBy: "crm", Context: "Remind Ana (+1 415 555 0123) about her appointment."},
			{CallSID: sidB, From: from, To: other, Decision: voice.Accept, Status: "queued", Active: true, CreatedAt: now,
				Direction: voice.DirectionOutbound, PlacedBy: "crm", Context: "Tell Bob that Ana at (415) 555-0123 called; his own is " + other + "."},
		} {
			if _, _, err := db.Calls().AdmitCall(ctx, c, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Outbound().ReserveAttempt(ctx, "0123456789abcdef0123456789abcdef", outboundLimits(), now); err != nil {
			t.Fatal(err)
		}
		ex, err := db.Privacy().ExportNumber(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		if len(ex.Calls) != 2 {
			t.Fatalf("export lists %d calls, want both outbound calls: %v", len(ex.Calls), ex.Calls)
		}
		counts, err := db.Privacy().EraseNumber(ctx, subject, "erased:x")
		if err != nil {
			t.Fatal(err)
		}
		if counts["calls"] != 2 {
			t.Fatalf("counts = %v", counts)
		}
		if n := rowCount(t, db, `SELECT COUNT(*) FROM calls WHERE call_sid = $1`, sidA); n != 0 {
			t.Fatal("the subject's outbound call (and its context) survived the erasure")
		}
		b, err := db.Calls().FindCall(ctx, sidB, "")
		if err != nil {
			t.Fatal(err)
		}
		if b.Context != "Tell Bob that Ana at erased:x called; his own is "+other+"." || b.To != other {
			t.Fatalf("other call after the erasure = %q to %s", b.Context, b.To)
		}
		// Nothing in any text column still holds the subject's digits.
		for _, q := range []string{`SELECT COUNT(*) FROM calls WHERE context LIKE '%555%0123%'`, `SELECT COUNT(*) FROM outbound_attempts WHERE dest_hash LIKE '%4155550123%'`} {
			if n := rowCount(t, db, q); n != 0 {
				t.Fatalf("%s = %d", q, n)
			}
		}
		if !strings.HasPrefix(b.Context, "Tell Bob") {
			t.Fatal(b.Context)
		}
	})
}
