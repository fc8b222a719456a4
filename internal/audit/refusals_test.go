package audit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/logging"
)

// sinkRec keeps the rows an aggregator writes.
type sinkRec struct {
	mu   sync.Mutex
	rows []audit.Event
}

func (s *sinkRec) Record(ev audit.Event) { s.mu.Lock(); s.rows = append(s.rows, ev); s.mu.Unlock() }
func (s *sinkRec) all() []audit.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]audit.Event(nil), s.rows...)
}

// timers collects the flush functions the aggregator schedules, so a test
// fires them when it has moved the clock.
type timers struct {
	mu sync.Mutex
	fs []func()
}

func (t *timers) after(_ time.Duration, f func()) { t.mu.Lock(); t.fs = append(t.fs, f); t.mu.Unlock() }
func (t *timers) fire() {
	t.mu.Lock()
	fs := t.fs
	t.fs = nil
	t.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

func total(rows []audit.Event) int {
	n := 0
	for _, r := range rows {
		n += r.Detail["count"].(int)
	}
	return n
}

// TestRefusalsOneRowPerKeyPerWindow: a thousand refusals from one client in
// a minute are one row written at once, and one more carrying the rest when
// the window has passed; nothing is lost.
func TestRefusalsOneRowPerKeyPerWindow(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	tm := &timers{}
	sink := &sinkRec{}
	a := audit.NewRefusals(sink, audit.RefusalClock(clk.now, tm.after))
	logged := 0
	for i := 0; i < 1000; i++ {
		if ok, _ := a.Note(audit.Refusal{RemoteIP: "203.0.113.7", Surface: "twilio", Reason: "bad_signature", Actor: "twilio", Path: "/voice/incoming"}); ok {
			logged++
		}
		clk.add(50 * time.Millisecond)
	}
	// 50 s of refusals: still inside the first window.
	if got, want := len(sink.all()), 1; got != want {
		t.Fatalf("rows = %d, want %d", got, want)
	}
	if logged != 1 {
		t.Fatalf("Note reported %d rows written, want 1 (log lines follow rows)", logged)
	}
	clk.add(20 * time.Second)
	tm.fire()
	rows := sink.all()
	if got, want := len(rows), 2; got != want {
		t.Fatalf("rows after the window = %d, want %d", got, want)
	}
	if got, want := total(rows), 1000; got != want {
		t.Fatalf("counted refusals = %d, want %d", got, want)
	}
	if rows[1].RemoteIP != "203.0.113.7" || rows[1].Type != audit.TypeAuthFailure || rows[1].Detail["reason"] != "bad_signature" {
		t.Fatalf("row = %+v", rows[1])
	}
	// Quiet after that: the timer is not scheduled again, the key is forgotten.
	clk.add(2 * time.Minute)
	tm.fire()
	if got := len(sink.all()); got != 2 {
		t.Fatalf("rows after a quiet window = %d, want 2", got)
	}
}

// TestRefusalsKeysAreSeparate: IP, surface and reason each make their own key.
func TestRefusalsKeysAreSeparate(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	sink := &sinkRec{}
	a := audit.NewRefusals(sink, audit.RefusalClock(clk.now, (&timers{}).after))
	for _, f := range []audit.Refusal{
		{RemoteIP: "203.0.113.7", Surface: "twilio", Reason: "bad_signature"},
		{RemoteIP: "203.0.113.8", Surface: "twilio", Reason: "bad_signature"},
		{RemoteIP: "203.0.113.7", Surface: "media", Reason: "bad_signature"},
		{RemoteIP: "203.0.113.7", Surface: "twilio", Reason: "missing_signature"},
		{RemoteIP: "203.0.113.7", Surface: "twilio", Reason: "bad_signature"},
	} {
		a.Note(f)
	}
	if got, want := len(sink.all()), 4; got != want {
		t.Fatalf("rows = %d, want %d", got, want)
	}
}

// TestRefusalsBoundedKeys: past the key limit, new IPs share one overflow
// row per (surface, reason) instead of growing the table.
func TestRefusalsBoundedKeys(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	tm := &timers{}
	sink := &sinkRec{}
	a := audit.NewRefusals(sink, audit.RefusalClock(clk.now, tm.after), audit.RefusalLimit(10))
	for i := 0; i < 500; i++ {
		a.Note(audit.Refusal{RemoteIP: fmt.Sprintf("198.51.100.%d", i%250), Surface: "media", Reason: "bad_token"})
	}
	rows := sink.all()
	if got, want := len(rows), 11; got != want { // 10 IPs + the overflow key
		t.Fatalf("rows = %d, want %d", got, want)
	}
	clk.add(time.Minute)
	tm.fire()
	rows = sink.all()
	if got, want := total(rows), 500; got != want {
		t.Fatalf("counted = %d, want %d", got, want)
	}
	overflow := 0
	for _, r := range rows {
		if r.Detail["overflow"] == true {
			overflow++
			if r.RemoteIP != "" {
				t.Fatalf("overflow row carries an IP: %+v", r)
			}
		}
	}
	if overflow == 0 {
		t.Fatal("no overflow row")
	}
}

// TestRefusalsFeedTheBurstCheck: one aggregated row standing for many
// failures raises the authentication-burst alert as many rows would.
func TestRefusalsFeedTheBurstCheck(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st := &memStore{}
	alerts := &counter{}
	r := audit.NewRecorder(st, logging.Discard(), audit.WithAlertCounter(alerts), audit.WithClock(clk.now))
	defer r.Close()
	a := audit.NewRefusals(r, audit.RefusalClock(clk.now, (&timers{}).after))
	for i := 0; i < 50; i++ {
		a.Note(audit.Refusal{RemoteIP: "203.0.113.7", Surface: "twilio", Reason: "bad_signature"})
	}
	clk.add(time.Minute)
	a.Flush()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.Flush(ctx)
	if got, want := len(st.ofType(audit.TypeSecurityAlert)), 1; got != want {
		t.Fatalf("security alerts = %d, want %d", got, want)
	}
}

// blockedStore holds every write until released.
type blockedStore struct {
	memStore
	release chan struct{}
}

func (b *blockedStore) InsertAuditEvents(ctx context.Context, evs []audit.Event) error {
	<-b.release
	return b.memStore.InsertAuditEvents(ctx, evs)
}

// TestFullQueueRaisesAlert: events the full queue drops are counted in the
// metric and reported by a security_alert once the writer catches up.
func TestFullQueueRaisesAlert(t *testing.T) {
	st := &blockedStore{release: make(chan struct{})}
	drops, alerts := &counter{}, &counter{}
	r := audit.NewRecorder(st, logging.Discard(), audit.WithDropCounter(drops), audit.WithAlertCounter(alerts))
	for i := 0; i < 10_000; i++ {
		r.Record(audit.Event{Type: audit.TypeContactChange})
	}
	if drops.n.Load() == 0 {
		t.Fatal("drop metric not raised")
	}
	close(st.release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.Flush(ctx)
	r.Close()
	got := st.ofType(audit.TypeSecurityAlert)
	if len(got) == 0 {
		t.Fatal("no security_alert for the dropped events")
	}
	var n int64
	for _, ev := range got {
		n += ev.Detail["dropped"].(int64)
	}
	if n != drops.n.Load() {
		t.Fatalf("alerts report %d dropped, drop metric %d", n, drops.n.Load())
	}
	if alerts.n.Load() == 0 {
		t.Fatal("security-alert metric not raised")
	}
}
