package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

func TestEventChannelOnlyOnPostgres(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ch, err := db.EventChannel(context.Background())
		if db.Engine == store.SQLite {
			if err == nil {
				t.Fatal("SQLite returned an event channel")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if n := ch.Channel(); !strings.HasPrefix(n, "voiceagent_events_") || len(n) > 63 {
			t.Fatalf("channel name %q", n)
		}
	})
}

// startBus opens a second connection pool on url (another "instance") and
// a bus listening on it.
func startBus(t *testing.T, db *store.DB) *events.Bus {
	t.Helper()
	ch, err := db.EventChannel(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	bus := events.NewBus(logging.Discard(), events.Options{Transport: ch})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	return bus
}

func nextEvent(t *testing.T, s *events.Subscription) events.Event {
	t.Helper()
	select {
	case ev := <-s.Events():
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return events.Event{}
	}
}

func TestEventChannelAcrossInstances(t *testing.T) {
	dbA, url := storetest.PostgresURL(t)
	dbB, err := store.Open(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer dbB.Close()
	// A third schema on the same server must not hear this one's events.
	other := storetest.Postgres(t)

	a, b, c := startBus(t, dbA), startBus(t, dbB), startBus(t, other)
	onA, onB, onC := a.Subscribe(), b.Subscribe(), c.Subscribe()

	const sid = "CA00000000000000000000000000000abc"
	big := strings.Repeat("a long agent answer ", 1000) // ~20 KB: sent by reference
	a.Publish(events.Event{Type: events.CallAccepted, CallSID: sid})
	a.Publish(events.Event{Type: events.TranscriptLine, CallSID: sid, Data: map[string]any{"role": "agent", "text": big}})
	a.Publish(events.Event{Type: events.CallEnded, CallSID: sid, Data: map[string]any{"durationSec": 3}})

	for i, want := range []string{events.CallAccepted, events.TranscriptLine, events.CallEnded} {
		ev := nextEvent(t, onB)
		if ev.Type != want || ev.CallSID != sid {
			t.Fatalf("instance B event %d = %s %s, want %s", i, ev.Type, ev.CallSID, want)
		}
		if want == events.TranscriptLine && ev.Data["text"] != big {
			t.Fatalf("large payload arrived with %d bytes of text", len(ev.Data["text"].(string)))
		}
		if got := nextEvent(t, onA); got.Type != want {
			t.Fatalf("instance A event %d = %s, want %s", i, got.Type, want)
		}
	}
	// B answers; A must get B's event next, which also proves A did not
	// get its own three events a second time through NOTIFY (they were
	// sent before B's).
	b.Publish(events.Event{Type: events.Error, CallSID: sid, Data: map[string]any{"message": "from B"}})
	if ev := nextEvent(t, onA); ev.Type != events.Error {
		t.Fatalf("instance A next event = %s, want B's error (a duplicate?)", ev.Type)
	}
	if ev := nextEvent(t, onB); ev.Type != events.Error {
		t.Fatalf("instance B own event = %s", ev.Type)
	}
	if n := len(onC.Events()); n != 0 {
		t.Fatalf("another schema's bus got %d events", n)
	}
	var stored int
	if err := dbA.SQL.QueryRow(`SELECT count(*) FROM event_payloads`).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("event_payloads rows = %d (%v), want 1", stored, err)
	}
}
