package events

import "sync"

// outbox is the queue between publishers and the bus's send loop: put
// never blocks, and the send loop takes everything queued at once, so the
// transport sends batches rather than one message per event.
//
// It holds at most size events, and up to mustSize when the extra ones
// are MustDeliver events, which a full outbox does not shed.
type outbox struct {
	mu       sync.Mutex
	q        []Event
	size     int
	mustSize int
	wake     chan struct{} // one token: something was queued
}

func newOutbox(size, mustSize int) *outbox {
	return &outbox{size: size, mustSize: mustSize, wake: make(chan struct{}, 1)}
}

// put queues ev and reports whether it did (false: the outbox is full for
// this event, and it is shed).
func (o *outbox) put(ev Event) bool {
	o.mu.Lock()
	n := len(o.q)
	if n >= o.size && (n >= o.mustSize || !MustDeliver(ev.Type)) {
		o.mu.Unlock()
		return false
	}
	o.q = append(o.q, ev)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return true
}

// take moves up to max queued events, oldest first, into dst.
func (o *outbox) take(dst []Event, max int) []Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := min(len(o.q), max)
	dst = append(dst, o.q[:n]...)
	rest := copy(o.q, o.q[n:])
	clear(o.q[rest:])
	o.q = o.q[:rest]
	return dst
}
