package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/audit"
)

// TestDrainContainsAPanickingDrainer: a drainer that panics during
// shutdown (its own goroutine) is contained: Drain still returns, the
// other drainers still run, and an error_occurred row names the drain,
// instead of the panic ending the process while calls are being drained.
func TestDrainContainsAPanickingDrainer(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	other := make(chan struct{})
	srv.Server.OnDrain(func(context.Context) { panic("injected test panic in a drainer") })
	srv.Server.OnDrain(func(context.Context) { close(other) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Server.Drain(ctx)
	select {
	case <-other:
	default:
		t.Fatal("the other drainer did not run")
	}
	rows := auditRows(t, srv, audit.TypeError)
	if len(rows) != 1 || rows[0].Detail["where"] != "drain" {
		t.Fatalf("error_occurred rows = %+v, want one for the drain", rows)
	}
}
