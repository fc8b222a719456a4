package events_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/poll"
)

// panicky is a hub whose first Send and first Listen (once ready) panic.
type panicky struct {
	*hub
	sent, listened atomic.Bool
}

func (p *panicky) Send(ctx context.Context, b [][]byte) error {
	if p.sent.CompareAndSwap(false, true) {
		panic("injected test panic in Send")
	}
	return p.hub.Send(ctx, b)
}

func (p *panicky) Listen(ctx context.Context, ready func(), deliver func([]byte)) error {
	if p.listened.CompareAndSwap(false, true) {
		ready()
		panic("injected test panic in Listen")
	}
	return p.hub.Listen(ctx, ready, deliver)
}

// TestBusGoroutinesRestartAfterPanic: a panic in the sender loses one
// batch and the sender goes on; a panic in the listener is reported and
// the listener starts again, so events from another instance arrive.
func TestBusGoroutinesRestartAfterPanic(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	h := &hub{}
	var mu sync.Mutex
	var where []string
	onPanic := func(w, _ string) { mu.Lock(); where = append(where, w); mu.Unlock() }
	a := events.NewBus(logging.Discard(), events.Options{Transport: &panicky{hub: h}, OnPanic: onPanic})
	b := events.NewBus(logging.Discard(), events.Options{Transport: h})
	for _, bus := range []*events.Bus{a, b} {
		if err := bus.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	onA, onB := a.Subscribe(), b.Subscribe()

	// A's sender panics on its first batch, then sends the next.
	a.Publish(events.Event{Type: events.CallEnded, CallSID: sidA})
	poll.Wait(t, "the condition", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(where, "event_sender")
	})
	a.Publish(events.Event{Type: events.CallReceived, CallSID: sidA})
	if ev := recv(t, onB); ev.Type != events.CallReceived {
		t.Fatalf("B got %+v, want the event after the panic", ev)
	}
	// A's listener panicked at start; once it is back, B's events reach A.
	poll.Wait(t, "the condition", func() bool {
		b.Publish(events.Event{Type: events.StreamStarted, CallSID: sidA})
		for {
			select {
			case ev := <-onA.Events():
				if ev.Type == events.StreamStarted {
					return true
				}
			default:
				return false
			}
		}
	})
	a.Close()
	b.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(where) != 2 {
		t.Fatalf("panics reported = %v, want the sender's and the listener's", where)
	}
}
