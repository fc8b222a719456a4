package audit_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/logging"
)

// panicOnce panics on its first write, then stores.
type panicOnce struct {
	memStore
	panicked atomic.Bool
}

func (p *panicOnce) InsertAuditEvents(ctx context.Context, evs []audit.Event) error {
	if p.panicked.CompareAndSwap(false, true) {
		panic("injected test panic in the audit store")
	}
	return p.memStore.InsertAuditEvents(ctx, evs)
}

// TestAuditWriterRestartsAfterPanic: a panic while writing loses only the
// batch in hand, which is counted as dropped and alerted; the writer
// restarts, writes what follows and an error_occurred row, and Close
// leaves no goroutine behind.
func TestAuditWriterRestartsAfterPanic(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	st := &panicOnce{}
	drops, alerts := &counter{}, &counter{}
	r := audit.NewRecorder(st, logging.Discard(), audit.WithDropCounter(drops), audit.WithAlertCounter(alerts))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.Record(audit.Event{Type: audit.TypeContactChange, Detail: map[string]any{"n": 1}})
	r.Flush(ctx)
	r.Record(audit.Event{Type: audit.TypeContactChange, Detail: map[string]any{"n": 2}})
	r.Flush(ctx)
	r.Close()
	if got := st.ofType(audit.TypeContactChange); len(got) != 1 || got[0].Detail["n"] != 2 {
		t.Fatalf("written after the restart = %+v, want the second event", got)
	}
	if errs := st.ofType(audit.TypeError); len(errs) != 1 || errs[0].Detail["where"] != "audit_writer" {
		t.Fatalf("error_occurred rows = %+v", errs)
	}
	if drops.n.Load() != 1 {
		t.Fatalf("drop metric = %d, want 1", drops.n.Load())
	}
	if len(st.ofType(audit.TypeSecurityAlert)) != 1 {
		t.Fatalf("no security_alert for the lost event")
	}
}

// TestRecordAfterCloseIsCounted: an event recorded after shutdown (a
// socket outliving it) is dropped and counted in the drop metric, the one
// place drops are reported.
func TestRecordAfterCloseIsCounted(t *testing.T) {
	drops := &counter{}
	r := audit.NewRecorder(&memStore{}, logging.Discard(), audit.WithDropCounter(drops))
	r.Close()
	r.Record(audit.Event{Type: audit.TypeContactChange})
	if got := drops.n.Load(); got != 1 {
		t.Fatalf("drop metric = %d, want 1", got)
	}
}
