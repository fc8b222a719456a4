package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/calllog"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// insertCall writes a calls row directly (the inbound-calls store owns the
// real writes; the listing only reads).
func insertCall(t *testing.T, db *store.DB, sid, status string, active bool, created time.Time, ended bool) {
	t.Helper()
	var endedAt, dur any
	if ended {
		endedAt, dur = store.Millis(created.Add(42*time.Second)), 42
	}
	act := 0
	if active {
		act = 1
	}
	_, err := db.SQL.Exec(`INSERT INTO calls (call_sid, from_number, to_number, decision, status, active, duration_sec, created_at, updated_at, ended_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)`, sid, "+14155550123", "+14155550100", "accept", status, act, dur, store.Millis(created), endedAt)
	if err != nil {
		t.Fatal(err)
	}
}

func TestListCalls(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		// Seven ended calls, two sharing a creation time, and one live.
		for i := 0; i < 7; i++ {
			at := base.Add(time.Duration(i) * time.Minute)
			if i == 6 {
				at = base.Add(5 * time.Minute)
			}
			insertCall(t, db, fmt.Sprintf("CA%032x", i+1), "completed", false, at, true)
		}
		insertCall(t, db, fmt.Sprintf("CA%032x", 100), "in-progress", true, base.Add(time.Hour), false)

		list := db.CallList()
		all, err := list.ListCalls(ctx, calllog.Filter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 8 || all[0].CallSID != fmt.Sprintf("CA%032x", 100) || !all[0].Active {
			t.Fatalf("newest first: got %d calls, first %+v", len(all), all[0])
		}
		if all[1].DurationSec == nil || *all[1].DurationSec != 42 || all[1].EndedAt == nil || all[1].From != "+14155550123" {
			t.Fatalf("ended call = %+v", all[1])
		}

		for status, want := range map[string]int{"active": 1, "ended": 7, "completed": 7, "in-progress": 1, "failed": 0} {
			got, err := list.ListCalls(ctx, calllog.Filter{Status: status, Limit: 100})
			if err != nil || len(got) != want {
				t.Fatalf("status %s: %d calls (%v), want %d", status, len(got), err, want)
			}
		}

		// Paging by three through the ended calls visits each once, in
		// order, even across the creation-time tie.
		var seen []string
		var after *calllog.Cursor
		for page := 0; page < 5; page++ {
			got, err := list.ListCalls(ctx, calllog.Filter{Status: "ended", After: after, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range got {
				seen = append(seen, c.CallSID)
			}
			if len(got) < 3 {
				break
			}
			last := got[len(got)-1]
			after = &calllog.Cursor{CreatedAt: last.CreatedAt, CallSID: last.CallSID}
		}
		if len(seen) != 7 {
			t.Fatalf("paged through %d calls, want 7: %v", len(seen), seen)
		}
		for i := range seen {
			if seen[i] != all[i+1].CallSID {
				t.Fatalf("page order %v differs from the full listing", seen)
			}
		}
	})
}
