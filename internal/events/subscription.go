package events

import (
	"sync"
	"sync/atomic"
)

// Why a subscription ended.
const (
	ReasonSlow   = "slow"   // its queue filled up: the reader fell behind
	ReasonClosed = "closed" // the subscriber or the bus closed it
)

// Subscription is one subscriber's bounded queue of events.
type Subscription struct {
	bus    *Bus
	ch     chan Event
	callID atomic.Pointer[string]
	once   sync.Once
	gone   chan struct{}
	reason atomic.Value // string
}

// Events delivers the subscriber's events in publication order.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Gone is closed when the subscription ends; Reason then says why. Events
// still buffered should be ignored.
func (s *Subscription) Gone() <-chan struct{} { return s.gone }

// Reason is ReasonSlow or ReasonClosed once Gone is closed, "" before.
func (s *Subscription) Reason() string {
	r, _ := s.reason.Load().(string)
	return r
}

// SetCallSID limits the subscription to one call ("" for every call).
// Filtered-out events never take space in the queue.
func (s *Subscription) SetCallSID(sid string) {
	if sid == "" {
		s.callID.Store(nil)
		return
	}
	s.callID.Store(&sid)
}

// Close unsubscribes. It is safe to call more than once.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
	s.end(ReasonClosed)
}

func (s *Subscription) wants(ev Event) bool {
	p := s.callID.Load()
	return p == nil || *p == ev.CallSID
}

// end records the first reason and closes Gone.
func (s *Subscription) end(reason string) {
	s.once.Do(func() {
		s.reason.Store(reason)
		close(s.gone)
	})
}
