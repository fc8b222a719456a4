package voice_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// Issue 17: a stale slot (a call accepted three minutes ago whose stream
// never started) is freed by the background sweep without any admission,
// and the freed slot takes the next call at a full cap.
func TestSlotSweeperFreesStaleSlotWithoutAdmission(t *testing.T) {
	db := storetest.SQLite(t)
	calls := db.Calls()
	ctx := context.Background()
	old := voice.Call{CallSID: sid(1), From: "+15555550100", To: "+15555550199", Decision: voice.Accept, Status: "ringing",
		Active: true, TwiML: "<Response/>", CreatedAt: time.Now().Add(-3 * time.Minute).UTC().Truncate(time.Millisecond)}
	if _, _, err := calls.AdmitCall(ctx, old, &voice.Capacity{Max: 1}); err != nil {
		t.Fatal(err)
	}
	svc := voice.New(voice.Deps{Calls: calls, Tokens: calls, Lists: db.Callers(), Audit: nopAudit{}}, voice.Settings{MaxConcurrent: 1, Links: links})
	// At the cap, the admission answers busy from the counter: the stale
	// slot is not freed by it.
	if a, err := svc.Incoming(ctx, voice.Inbound{CallSID: sid(2), From: "+15555550101"}, nil, false); err != nil || a.Decision != voice.Busy {
		t.Fatalf("admission at the cap = %v, %v; want busy", a.Decision, err)
	}

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.SlotSweeper(time.Millisecond, false).Run(rctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := calls.FindCall(ctx, old.CallSID, "")
		if err != nil {
			t.Fatal(err)
		}
		if !c.Active {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweep did not free the stale slot")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done // Run returns once its context ends
	if a, err := svc.Incoming(ctx, voice.Inbound{CallSID: sid(3), From: "+15555550102"}, nil, false); err != nil || a.Decision != voice.Accept {
		t.Fatalf("admission after the sweep = %v, %v; want accepted", a.Decision, err)
	}
	// A fresh call's slot is not stale.
	if n, err := svc.SlotSweeper(0, false).SweepOnce(ctx); err != nil || n != 0 {
		t.Fatalf("sweep of a fresh slot = %d, %v; want 0", n, err)
	}
}

// panickyStore panics on its first sweep, then counts the sweeps.
type panickyStore struct {
	mu     sync.Mutex
	sweeps int
	calls  chan struct{}
}

func (p *panickyStore) FreeStaleSlots(context.Context, time.Time, time.Time) (int64, error) {
	p.mu.Lock()
	p.sweeps++
	n := p.sweeps
	p.mu.Unlock()
	if n == 1 {
		panic("sweep failed for +15555550123")
	}
	select {
	case p.calls <- struct{}{}:
	default:
	}
	return 0, nil
}

// A panic in one sweep is contained and logged (redacted); the loop goes
// on, or slots would leak until the cap is reached for good.
func TestSlotSweeperContainsPanic(t *testing.T) {
	var buf syncBuffer
	st := &panickyStore{calls: make(chan struct{}, 1)}
	sw := voice.NewSlotSweeper(st, voice.SweeperConfig{Every: time.Millisecond, Log: slog.New(slog.NewTextHandler(&buf, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sw.Run(ctx) }()
	select {
	case <-st.calls:
	case <-time.After(10 * time.Second):
		t.Fatal("no sweep after the panic")
	}
	cancel()
	<-done
	log := buf.String()
	if !strings.Contains(log, "panic contained") || !strings.Contains(log, "component=slots") {
		t.Fatalf("panic not logged: %q", log)
	}
	if strings.Contains(log, "5550123") {
		t.Fatalf("the panic value reached the log unredacted: %q", log)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
