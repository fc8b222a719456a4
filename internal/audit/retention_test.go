package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

func count(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.SQL.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRetentionPurgesOldRows(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		old, recent := now.Add(-31*24*time.Hour), now.Add(-29*24*time.Hour)
		if err := db.Audit().InsertAuditEvents(ctx, []audit.Event{
			{Type: audit.TypeAuthFailure, Severity: audit.Warning, Time: old},
			{Type: audit.TypeAuthFailure, Severity: audit.Warning, Time: recent},
		}); err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{now.Add(-8 * 24 * time.Hour), now.Add(-6 * 24 * time.Hour)} {
			if _, err := db.SQL.ExecContext(ctx, `INSERT INTO transcripts (call_sid, role, text, created_at) VALUES ($1, $2, $3, $4)`,
				"CA00000000000000000000000000000001", "caller", "hello", store.Millis(at)); err != nil {
				t.Fatal(err)
			}
		}
		rec := audit.NewRecorder(db.Audit(), logging.Discard())
		defer rec.Close()
		ret := audit.NewRetention(logging.Discard(), rec,
			audit.Target{Name: "audit_events", Keep: 30 * 24 * time.Hour, Purge: db.Audit().DeleteAuditEventsBefore},
			audit.Target{Name: "transcripts", Keep: 7 * 24 * time.Hour, Purge: db.Transcripts().DeleteTranscriptsBefore},
		)
		if got := ret.RunOnce(ctx); got["audit_events"] != 1 || got["transcripts"] != 1 {
			t.Fatalf("purged %v, want one row of each", got)
		}
		if got := ret.RunOnce(ctx); got["audit_events"] != 0 || got["transcripts"] != 0 {
			t.Fatalf("second run purged %v, want nothing left to purge", got)
		}
		rec.Flush(ctx)
		if got, want := count(t, db, "transcripts"), 1; got != want {
			t.Fatalf("transcripts left = %d, want %d", got, want)
		}
		evs, err := db.Audit().ListAuditEvents(ctx, audit.Filter{Since: time.UnixMilli(0), Until: now.Add(time.Hour), Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		// The recent failure stays, the old one is gone, and the purge
		// itself is audited with its counts.
		var types []string
		for _, e := range evs {
			types = append(types, e.Type)
		}
		if len(evs) != 2 || evs[0].Type != audit.TypeResourceCleanup || evs[1].Type != audit.TypeAuthFailure {
			t.Fatalf("audit events after purge = %v", types)
		}
		purged := evs[0].Detail["purged"].(map[string]any)
		if purged["audit_events"] != float64(1) || purged["transcripts"] != float64(1) {
			t.Fatalf("cleanup detail = %v", evs[0].Detail)
		}
	})
}
