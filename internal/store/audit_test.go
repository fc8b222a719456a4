package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// TestAuditBatchKeepsEveryFieldAndTheOrder: a batch of audit events (one
// statement on PostgreSQL) is stored whole, every field as given, in
// batch order (ids ascending), an empty detail as {}.
func TestAuditBatchKeepsEveryFieldAndTheOrder(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var evs []audit.Event
		for i := range 5 {
			ev := audit.Event{Type: audit.TypeCallDecision, Severity: audit.Warning, Actor: fmt.Sprint("actor", i),
				RemoteIP: "192.0.2.1", CallSID: sid(i), Time: t0.Add(time.Duration(i) * time.Second)}
			if i%2 == 0 {
				ev.Detail = map[string]any{"n": float64(i), "reason": "it's \"quoted\""}
			}
			evs = append(evs, ev)
		}
		if err := db.Audit().InsertAuditEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if err := db.Audit().InsertAuditEvents(ctx, nil); err != nil {
			t.Fatalf("empty batch: %v", err)
		}
		got, err := db.Audit().ListAuditEvents(ctx, audit.Filter{Since: t0.Add(-time.Hour), Until: t0.Add(time.Hour), Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(evs) {
			t.Fatalf("listed %d events, want %d", len(got), len(evs))
		}
		for i, g := range got { // newest (highest id) first
			want := evs[len(evs)-1-i]
			if g.Actor != want.Actor || g.CallSID != want.CallSID || g.Type != want.Type || g.Severity != want.Severity ||
				g.RemoteIP != want.RemoteIP || !g.Time.Equal(want.Time) || fmt.Sprint(g.Detail) != fmt.Sprint(want.Detail) {
				t.Fatalf("event %d = %+v, want %+v", i, g, want)
			}
		}
	})
}
