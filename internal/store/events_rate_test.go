package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// TestEventChannelKeepsUpWithAHighRate publishes events on one instance at
// about 10,000 a second (four times the call.received events of the
// issue's 2,500 admissions a second) and requires the other instance to
// receive every one, in order. With one NOTIFY round trip per event and a
// 1,024-event outbox, events were lost at this rate.
func TestEventChannelKeepsUpWithAHighRate(t *testing.T) {
	dbA, url := storetest.PostgresURL(t)
	dbB, err := store.Open(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer dbB.Close()
	const total, perTick = 10000, 10
	newBus := func(db *store.DB) *events.Bus {
		ch, err := db.EventChannel(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		bus := events.NewBus(logging.Discard(), events.Options{Transport: ch, QueueSize: total})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := bus.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(bus.Close)
		return bus
	}
	a, b := newBus(dbA), newBus(dbB)
	onB := b.Subscribe()

	tick := time.NewTicker(time.Millisecond) // pacing the publisher, not a timed assertion
	defer tick.Stop()
	for i := 0; i < total; {
		<-tick.C
		for range perTick {
			typ := events.TranscriptLine
			if i%10 == 9 {
				typ = events.CallEnded
			}
			a.Publish(events.Event{Type: typ, CallSID: fmt.Sprintf("CA%032x", i/10), Data: map[string]any{"n": i}})
			i++
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for want := range total {
		select {
		case ev := <-onB.Events():
			if got := int(ev.Data["n"].(float64)); got != want {
				t.Fatalf("instance B got event %d, want %d: events lost or reordered", got, want)
			}
		case <-onB.Gone():
			t.Fatal("instance B's subscriber was dropped")
		case <-ctx.Done():
			t.Fatalf("instance B received %d of %d events", want, total)
		}
	}
}
