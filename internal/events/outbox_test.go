package events_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/poll"
)

// gate is a Transport whose Send waits until it is opened, standing in for
// a database that lags behind the publishers. It records what it sent.
type gate struct {
	open    chan struct{}
	started chan struct{} // closed at the first Send
	once    sync.Once
	mu      sync.Mutex
	sent    []string // event types, decoded crudely from the envelopes
	sends   int
}

func (g *gate) Send(ctx context.Context, ps [][]byte) error {
	g.once.Do(func() { close(g.started) })
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sends++
	for _, p := range ps {
		g.sent = append(g.sent, string(p))
	}
	return nil
}

func (g *gate) Listen(ctx context.Context, ready func(), _ func([]byte)) error {
	ready()
	<-ctx.Done()
	return ctx.Err()
}

// TestOutboxShedsOnlyRecoverableEvents fills the outbox while the
// transport is stuck: transcript lines beyond the outbox are shed and
// counted, every call.ended and security alert is kept, and once the
// transport moves the backlog leaves in batches, not one Send per event.
func TestOutboxShedsOnlyRecoverableEvents(t *testing.T) {
	g := &gate{open: make(chan struct{}), started: make(chan struct{})}
	var shed atomic.Int64
	const outbox = 16
	bus := events.NewBus(logging.Discard(), events.Options{Transport: g, OutboxSize: outbox,
		OnShed: func(reason string, n int) {
			if reason == events.ShedBacklog {
				shed.Add(int64(n))
			}
		}})
	if err := bus.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	// The first event is taken by the send loop, which then waits in Send.
	bus.Publish(events.Event{Type: events.CallReceived, CallSID: sidA})
	<-g.started

	const lines, ends, alerts = 100, 40, 5
	for i := range lines {
		bus.Publish(events.Event{Type: events.TranscriptLine, CallSID: sidA})
		if i%2 == 0 && i/2 < ends {
			bus.Publish(events.Event{Type: events.CallEnded, CallSID: sidA})
		}
		if i < alerts {
			bus.Publish(events.Event{Type: events.SecurityAlert})
		}
	}
	for range ends - lines/2 {
		bus.Publish(events.Event{Type: events.CallEnded, CallSID: sidA})
	}
	close(g.open)

	count := func(typ string) int {
		g.mu.Lock()
		defer g.mu.Unlock()
		n := 0
		for _, p := range g.sent {
			if containsType(p, typ) {
				n++
			}
		}
		return n
	}
	poll.Wait(t, "the condition", func() bool { return count(events.CallEnded) == ends && count(events.SecurityAlert) == alerts })
	sentLines := count(events.TranscriptLine)
	if got := int64(lines - sentLines); got != shed.Load() || got == 0 {
		t.Fatalf("transcript lines sent %d of %d, shed counted %d", sentLines, lines, shed.Load())
	}
	g.mu.Lock()
	sends, total := g.sends, len(g.sent)
	g.mu.Unlock()
	if sends >= total/4 {
		t.Fatalf("%d events went in %d sends: not batched", total, sends)
	}
}

func containsType(envelope, typ string) bool {
	return strings.Contains(envelope, `"type":"`+typ+`"`)
}

// sends counts the transport's sends and the payloads they carried.
type sends struct {
	hub
	n, payloads atomic.Int64
}

func (s *sends) Send(ctx context.Context, ps [][]byte) error {
	s.n.Add(1)
	s.payloads.Add(int64(len(ps)))
	return s.hub.Send(ctx, ps)
}

// TestSendsAreSpaced: an event after a quiet spell goes at once; the ones
// published within the next SendInterval share one send, instead of a
// send each as they trickle in.
func TestSendsAreSpaced(t *testing.T) {
	tr := &sends{}
	bus := events.NewBus(logging.Discard(), events.Options{Transport: tr, SendInterval: 200 * time.Millisecond})
	if err := bus.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	bus.Publish(events.Event{Type: events.CallReceived, CallSID: sidA})
	poll.Wait(t, "the first event sent", func() bool { return tr.n.Load() == 1 })
	for range 20 {
		bus.Publish(events.Event{Type: events.CallReceived, CallSID: sidB})
		time.Sleep(time.Millisecond)
	}
	poll.Wait(t, "21 events sent", func() bool { return tr.payloads.Load() == 21 })
	if got := tr.n.Load(); got > 3 {
		t.Fatalf("21 events in %d sends, want at most 3", got)
	}
}
