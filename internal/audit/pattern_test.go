package audit_test

import (
	"context"
	"go.uber.org/goleak"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/logging"
)

// memStore keeps what the recorder writes.
type memStore struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (m *memStore) InsertAuditEvents(_ context.Context, evs []audit.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evs = append(m.evs, evs...)
	return nil
}

func (m *memStore) ofType(typ string) []audit.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []audit.Event
	for _, e := range m.evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

type counter struct{ n atomic.Int64 }

func (c *counter) Inc()          { c.n.Add(1) }
func (c *counter) Add(v float64) { c.n.Add(int64(v)) }

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func fail(r *audit.Recorder, n int, clk *clock, step time.Duration) {
	for i := 0; i < n; i++ {
		r.Record(audit.Event{Type: audit.TypeAuthFailure, Severity: audit.Warning, RemoteIP: "203.0.113.7", Detail: map[string]any{"surface": "api"}})
		clk.add(step)
	}
}

func TestAuthFailureBurstRaisesOneAlert(t *testing.T) {
	st, alerts := &memStore{}, &counter{}
	clk := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	r := audit.NewRecorder(st, logging.Discard(), audit.WithAlertCounter(alerts), audit.WithClock(clk.now))
	defer r.Close()
	ctx := context.Background()

	fail(r, audit.AlertThreshold, clk, time.Minute) // ten in ten minutes: not yet
	r.Flush(ctx)
	if got := len(st.ofType(audit.TypeSecurityAlert)); got != 0 {
		t.Fatalf("alerts after %d failures = %d, want 0", audit.AlertThreshold, got)
	}
	fail(r, 1, clk, time.Minute) // the eleventh within 15 minutes
	fail(r, 5, clk, time.Second) // more in the same window: still one alert
	r.Flush(ctx)
	got := st.ofType(audit.TypeSecurityAlert)
	if len(got) != 1 || alerts.n.Load() != 1 {
		t.Fatalf("alerts = %d (metric %d), want 1", len(got), alerts.n.Load())
	}
	if ip := got[0].RemoteIP; ip != "203.0.x.x" {
		t.Fatalf("alert remote IP = %q, want the masked 203.0.x.x", ip)
	}
	if got[0].Severity != audit.Warning || got[0].Detail["lastSurface"] != "api" {
		t.Fatalf("alert = %+v", got[0])
	}

	// A full window later, a new burst raises a second alert.
	clk.add(audit.AlertWindow)
	fail(r, audit.AlertThreshold+1, clk, time.Second)
	r.Flush(ctx)
	if got := len(st.ofType(audit.TypeSecurityAlert)); got != 2 {
		t.Fatalf("alerts after a second burst = %d, want 2", got)
	}
}

func TestSlowFailuresRaiseNoAlert(t *testing.T) {
	st := &memStore{}
	clk := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	r := audit.NewRecorder(st, logging.Discard(), audit.WithClock(clk.now))
	defer r.Close()
	// 30 failures, two minutes apart: never more than 8 in 15 minutes.
	fail(r, 30, clk, 2*time.Minute)
	r.Flush(context.Background())
	if got := len(st.ofType(audit.TypeSecurityAlert)); got != 0 {
		t.Fatalf("alerts = %d, want 0", got)
	}
	if got := len(st.ofType(audit.TypeAuthFailure)); got != 30 {
		t.Fatalf("failures stored = %d, want 30", got)
	}
}

// TestLockoutAlertCountsForTheBurst: when the per-IP lockout already
// raised its alert for a burst, the pattern check does not add a second.
func TestLockoutAlertCountsForTheBurst(t *testing.T) {
	st, alerts := &memStore{}, &counter{}
	clk := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	r := audit.NewRecorder(st, logging.Discard(), audit.WithAlertCounter(alerts), audit.WithClock(clk.now))
	defer r.Close()
	fail(r, audit.AlertThreshold, clk, time.Second)
	r.Record(audit.Event{Type: audit.TypeSecurityAlert, Severity: audit.Warning, Detail: map[string]any{"alert": audit.AlertAuthLockout}})
	fail(r, 1, clk, time.Second)
	r.Flush(context.Background())
	if got := len(st.ofType(audit.TypeSecurityAlert)); got != 1 || alerts.n.Load() != 1 {
		t.Fatalf("alerts = %d (metric %d), want 1", got, alerts.n.Load())
	}
}

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
