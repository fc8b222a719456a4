package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/logging"
)

// TestRetentionContainsAPanickingPurge: a purge that panics (a store or
// driver fault) is contained: the job goes on with the other tables, the
// panicking one is reported as failed, and an error_occurred row names
// it, instead of the panic ending the process and every live call.
func TestRetentionContainsAPanickingPurge(t *testing.T) {
	st := &memStore{}
	rec := audit.NewRecorder(st, logging.Discard())
	ret := audit.NewRetention(logging.Discard(), rec,
		audit.Target{Name: "audit_events", Keep: time.Hour, Purge: func(context.Context, time.Time) (int64, error) {
			panic("injected test panic in a purge")
		}},
		audit.Target{Name: "transcripts", Keep: time.Hour, Purge: func(context.Context, time.Time) (int64, error) { return 3, nil }},
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := ret.RunOnce(ctx)
	if got["transcripts"] != 3 {
		t.Fatalf("purged %v, want the other table purged after the panic", got)
	}
	if _, ok := got["audit_events"]; ok {
		t.Fatalf("purged %v, want the panicking table left out", got)
	}
	rec.Close()
	errs := st.ofType(audit.TypeError)
	if len(errs) != 1 || errs[0].Detail["where"] != "retention" || errs[0].Detail["table"] != "audit_events" {
		t.Fatalf("error_occurred rows = %+v, want one for the retention of audit_events", errs)
	}
	cleanup := st.ofType(audit.TypeResourceCleanup)
	if len(cleanup) != 1 {
		t.Fatalf("resource_cleanup rows = %+v, want one", cleanup)
	}
	if d := cleanup[0].Detail["purged"].(map[string]any); d["audit_events"] != "failed" {
		t.Fatalf("resource_cleanup detail = %v, want audit_events failed", d)
	}
}
