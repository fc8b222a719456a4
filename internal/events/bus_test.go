package events_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/poll"
)

const (
	sidA = "CA00000000000000000000000000000001"
	sidB = "CA00000000000000000000000000000002"
)

func recv(t *testing.T, s *events.Subscription) events.Event {
	t.Helper()
	select {
	case ev := <-s.Events():
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return events.Event{}
	}
}

func TestFanoutInOrderAndSlowSubscriberDropped(t *testing.T) {
	var drops atomic.Int64
	bus := events.NewBus(logging.Discard(), events.Options{QueueSize: 8, OnDrop: func() { drops.Add(1) }})
	defer bus.Close()
	fast1, fast2, slow := bus.Subscribe(), bus.Subscribe(), bus.Subscribe()
	defer fast1.Close()
	defer fast2.Close()

	const n = 100
	got := make([][]int, 2)
	var wg sync.WaitGroup
	for i, s := range []*events.Subscription{fast1, fast2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for len(got[i]) < n {
				select {
				case ev := <-s.Events():
					got[i] = append(got[i], ev.Data["seq"].(int))
				case <-s.Gone():
					return
				}
			}
		}()
	}
	// Publish in steps no larger than the fast queues, so only the slow
	// subscriber (which never reads) can overflow. Publish itself must
	// return at once even while the slow queue is full.
	for i := 0; i < n; i++ {
		bus.Publish(events.Event{Type: events.TranscriptLine, CallSID: sidA, Data: map[string]any{"seq": i}})
		if i%4 == 3 {
			poll.Wait(t, "the condition", func() bool { return len(fast1.Events()) == 0 && len(fast2.Events()) == 0 })
		}
	}
	wg.Wait()
	for i := range got {
		if len(got[i]) != n {
			t.Fatalf("fast subscriber %d got %d events, want %d (gone: %q)", i, len(got[i]), n, []*events.Subscription{fast1, fast2}[i].Reason())
		}
		for j, seq := range got[i] {
			if seq != j {
				t.Fatalf("fast subscriber %d: event %d has seq %d: out of order", i, j, seq)
			}
		}
	}
	select {
	case <-slow.Gone():
	default:
		t.Fatal("slow subscriber still subscribed")
	}
	if got, want := slow.Reason(), events.ReasonSlow; got != want {
		t.Fatalf("slow reason = %q, want %q", got, want)
	}
	if got := drops.Load(); got != 1 {
		t.Fatalf("drops = %d, want 1", got)
	}
	if got, want := bus.Subscribers(), 2; got != want {
		t.Fatalf("subscribers = %d, want %d", got, want)
	}
}

func TestFilterByCallSID(t *testing.T) {
	bus := events.NewBus(logging.Discard(), events.Options{QueueSize: 4})
	defer bus.Close()
	s := bus.Subscribe()
	s.SetCallSID(sidB)
	// Events for other calls must not fill the filtered queue.
	for i := 0; i < 20; i++ {
		bus.Publish(events.Event{Type: events.CallAccepted, CallSID: sidA})
	}
	bus.Publish(events.Event{Type: events.CallAccepted, CallSID: sidB})
	if ev := recv(t, s); ev.CallSID != sidB || ev.Time.IsZero() {
		t.Fatalf("event = %+v, want %s with a time", ev, sidB)
	}
	s.SetCallSID("")
	bus.Publish(events.Event{Type: events.CallEnded, CallSID: sidA})
	if ev := recv(t, s); ev.CallSID != sidA {
		t.Fatalf("after clearing the filter got %+v", ev)
	}
}

func TestCloseEndsSubscriptions(t *testing.T) {
	bus := events.NewBus(logging.Discard(), events.Options{})
	s := bus.Subscribe()
	bus.Close()
	<-s.Gone()
	if got, want := s.Reason(), events.ReasonClosed; got != want {
		t.Fatalf("reason = %q, want %q", got, want)
	}
	late := bus.Subscribe()
	<-late.Gone()
	bus.Publish(events.Event{Type: events.Error}) // no panic after close
	s.Close()
}

// hub is an in-memory Transport shared by several buses, standing in for
// PostgreSQL NOTIFY (the real one is tested in internal/store).
type hub struct {
	mu        sync.Mutex
	listeners map[int]func([]byte)
	next      int
	fail      error
}

func (h *hub) Send(_ context.Context, ps [][]byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range h.listeners {
		for _, p := range ps {
			d(append([]byte(nil), p...))
		}
	}
	return nil
}

func (h *hub) Listen(ctx context.Context, ready func(), deliver func([]byte)) error {
	h.mu.Lock()
	if h.fail != nil {
		h.mu.Unlock()
		return h.fail
	}
	if h.listeners == nil {
		h.listeners = map[int]func([]byte){}
	}
	id := h.next
	h.next++
	h.listeners[id] = deliver
	h.mu.Unlock()
	ready()
	<-ctx.Done()
	h.mu.Lock()
	delete(h.listeners, id)
	h.mu.Unlock()
	return ctx.Err()
}

func TestTransportReachesOtherInstancesOnce(t *testing.T) {
	h := &hub{}
	a := events.NewBus(logging.Discard(), events.Options{Transport: h})
	b := events.NewBus(logging.Discard(), events.Options{Transport: h})
	for _, bus := range []*events.Bus{a, b} {
		if err := bus.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
	}
	if a.Instance() == b.Instance() {
		t.Fatal("two buses share an instance ID")
	}
	onA, onB := a.Subscribe(), b.Subscribe()
	for i := 0; i < 5; i++ {
		a.Publish(events.Event{Type: events.TranscriptLine, CallSID: sidA, Data: map[string]any{"text": fmt.Sprint("line ", i)}})
	}
	b.Publish(events.Event{Type: events.CallEnded, CallSID: sidA})
	// B has its own event at once and A's in A's order; A has its own five
	// lines and then B's event.
	var linesOnB []string
	endsOnB := 0
	for i := 0; i < 6; i++ {
		switch ev := recv(t, onB); ev.Type {
		case events.TranscriptLine:
			linesOnB = append(linesOnB, ev.Data["text"].(string))
		case events.CallEnded:
			endsOnB++
		}
	}
	if endsOnB != 1 || len(linesOnB) != 5 {
		t.Fatalf("bus B saw %d ends and lines %v", endsOnB, linesOnB)
	}
	for i, l := range linesOnB {
		if l != fmt.Sprint("line ", i) {
			t.Fatalf("bus B line %d = %q: out of order", i, l)
		}
	}
	for i := 0; i < 6; i++ {
		want := events.TranscriptLine
		if i == 5 {
			want = events.CallEnded
		}
		if ev := recv(t, onA); ev.Type != want {
			t.Fatalf("bus A event %d = %+v, want %s", i, ev, want)
		}
	}
	// The hub delivers each payload to every listener inside one Send, so
	// once the other bus has an event, a duplicate at its source would
	// already be queued.
	if n := len(onA.Events()) + len(onB.Events()); n != 0 {
		t.Fatalf("%d duplicate events delivered", n)
	}
}

func TestStartFailsWhenTheTransportCannotListen(t *testing.T) {
	h := &hub{fail: errors.New("database unreachable")}
	bus := events.NewBus(logging.Discard(), events.Options{Transport: h})
	if err := bus.Start(context.Background()); err == nil {
		t.Fatal("Start succeeded without a listener")
	}
	bus.Close()
}

// TestSetQueueSizeAppliesToNewSubscriptions: a short queue set for one
// subscription overflows on its own; the others keep the bus's size.
func TestSetQueueSizeAppliesToNewSubscriptions(t *testing.T) {
	var drops atomic.Int64
	bus := events.NewBus(logging.Discard(), events.Options{QueueSize: 8, OnDrop: func() { drops.Add(1) }})
	defer bus.Close()
	before := bus.Subscribe()
	defer before.Close()
	bus.SetQueueSize(2)
	short := bus.Subscribe()
	bus.SetQueueSize(0)
	after := bus.Subscribe()
	defer after.Close()
	for i := range 3 {
		bus.Publish(events.Event{Type: events.TranscriptLine, CallSID: sidA, Data: map[string]any{"seq": i}})
	}
	select {
	case <-short.Gone():
	case <-time.After(5 * time.Second):
		t.Fatal("the short queue did not overflow")
	}
	if got, want := short.Reason(), events.ReasonSlow; got != want {
		t.Fatalf("reason = %q, want %q", got, want)
	}
	if got := drops.Load(); got != 1 {
		t.Fatalf("drops = %d, want 1", got)
	}
	for _, s := range []*events.Subscription{before, after} {
		for i := range 3 {
			if ev := recv(t, s); ev.Data["seq"] != i {
				t.Fatalf("event %d = %v", i, ev.Data["seq"])
			}
		}
	}
}

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
