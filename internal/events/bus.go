package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Default sizes of the bus queues.
const (
	DefaultQueueSize  = 256  // events buffered per subscriber
	DefaultOutboxSize = 1024 // events waiting for the cross-instance transport
)

// Transport carries encoded events between instances (PostgreSQL
// LISTEN/NOTIFY in production). Send is called from one goroutine, in
// publication order.
type Transport interface {
	// Send delivers payload to every listening instance, this one included.
	Send(ctx context.Context, payload []byte) error
	// Listen calls ready once it is receiving, then deliver for every
	// payload until ctx ends or the connection fails (the error is
	// returned; the bus reconnects).
	Listen(ctx context.Context, ready func(), deliver func(payload []byte)) error
}

// Options tune a Bus. The zero value is a local-only bus with default
// queue sizes.
type Options struct {
	QueueSize  int       // per subscriber; DefaultQueueSize when 0
	OutboxSize int       // towards Transport; DefaultOutboxSize when 0
	Transport  Transport // nil: events stay on this instance
	// OnDrop is called once for every subscriber dropped for being slow
	// (the metrics hook).
	OnDrop func()
}

// Bus fans events out to the subscribers of this instance and, through
// the transport, to every other instance. It implements Publisher:
// Publish never blocks, whatever the subscribers or the database do.
type Bus struct {
	log       *slog.Logger
	opts      Options
	instance  string
	out       chan Event
	lostOut   atomic.Int64
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu        sync.Mutex
	subs      map[*Subscription]struct{}
	closed    bool
	queueSize int // of new subscriptions when > 0 (SetQueueSize)
}

var _ Publisher = (*Bus)(nil)

// NewBus returns a bus; with a transport, call Start before publishing
// so remote events arrive, and Close when done.
func NewBus(log *slog.Logger, opts Options) *Bus {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.OutboxSize <= 0 {
		opts.OutboxSize = DefaultOutboxSize
	}
	b := &Bus{
		log:      log.With("component", "events"),
		opts:     opts,
		instance: newInstanceID(),
		subs:     make(map[*Subscription]struct{}),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	if opts.Transport != nil {
		b.out = make(chan Event, opts.OutboxSize)
	}
	return b
}

// Instance is this bus's random instance ID; events it sends carry it so
// they are not delivered twice when they come back from the transport.
func (b *Bus) Instance() string { return b.instance }

// Start connects the transport and returns once this instance is
// listening (or the first attempt failed, or ctx ended). Later connection
// failures are logged and retried in the background until Close.
func (b *Bus) Start(ctx context.Context) error {
	if b.opts.Transport == nil {
		return nil
	}
	readyc := make(chan struct{})
	errc := make(chan error, 1)
	var once sync.Once
	ready := func() { once.Do(func() { close(readyc) }) }
	b.wg.Add(2)
	go b.sendLoop()
	go b.listenLoop(ready, readyc, errc)
	select {
	case <-readyc:
		return nil
	case err := <-errc:
		b.Close()
		return err
	case <-ctx.Done():
		b.Close()
		return ctx.Err()
	}
}

// Publish delivers ev to the local subscribers at once and queues it for
// the other instances. It never blocks: a subscriber whose queue is full
// is dropped, and an event the transport cannot take is counted and lost.
func (b *Bus) Publish(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	ev.Data = stripBidi(ev.Data)
	b.fanout(ev)
	if b.out == nil {
		return
	}
	select {
	case b.out <- ev:
	default:
		if n := b.lostOut.Add(1); n == 1 || n%100 == 0 {
			b.log.Warn("event transport backlog full; events not sent to other instances", "event", ev.Type, "lost", n)
		}
	}
}

// Subscribe registers a subscriber. Read Events until Gone is closed;
// call Close when done.
func (b *Bus) Subscribe() *Subscription {
	b.mu.Lock()
	defer b.mu.Unlock()
	size := b.opts.QueueSize
	if b.queueSize > 0 {
		size = b.queueSize
	}
	s := &Subscription{bus: b, ch: make(chan Event, size), gone: make(chan struct{})}
	if b.closed {
		s.end(ReasonClosed)
		return s
	}
	b.subs[s] = struct{}{}
	return s
}

// SetQueueSize sets the queue size of subscriptions made from now on (0:
// back to Options.QueueSize); existing subscriptions keep theirs. It is
// for tests that give one subscriber of the bus an app built (a /logs
// viewer) a short queue.
func (b *Bus) SetQueueSize(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queueSize = n
}

// Subscribers is the number of current subscribers.
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Close ends every subscription and stops the transport goroutines.
func (b *Bus) Close() {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		for s := range b.subs {
			delete(b.subs, s)
			s.end(ReasonClosed)
		}
		b.mu.Unlock()
		b.cancel()
		b.wg.Wait()
	})
}

// fanout offers ev to every interested subscriber without waiting. The
// lock orders concurrent publishers, so every subscriber sees the same
// order.
func (b *Bus) fanout(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if !s.wants(ev) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			delete(b.subs, s)
			s.end(ReasonSlow)
			if b.opts.OnDrop != nil {
				b.opts.OnDrop()
			}
			b.log.Warn("live-event subscriber dropped: queue full", "queue", cap(s.ch))
		}
	}
}

// sendLoop encodes queued events and hands them to the transport in
// publication order.
func (b *Bus) sendLoop() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case ev := <-b.out:
			payload, err := encodeEnvelope(b.instance, ev)
			if err != nil {
				b.log.Error("event not encodable; not sent to other instances", "event", ev.Type, "err", err)
				continue
			}
			ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
			err = b.opts.Transport.Send(ctx, payload)
			cancel()
			if err != nil && b.ctx.Err() == nil {
				b.log.Warn("event not sent to other instances", "event", ev.Type, "err", err)
			}
		}
	}
}

// listenLoop keeps the transport listening. The first failure before
// ready is reported to Start; later ones are retried with backoff.
func (b *Bus) listenLoop(ready func(), readyc <-chan struct{}, errc chan<- error) {
	defer b.wg.Done()
	backoff := 250 * time.Millisecond
	for {
		err := b.opts.Transport.Listen(b.ctx, ready, b.deliver)
		if b.ctx.Err() != nil {
			return
		}
		select {
		case <-readyc:
		default:
			if err == nil {
				err = errors.New("event listener stopped before it was ready")
			}
			errc <- err
			return
		}
		b.log.Warn("event listener lost; reconnecting (events from other instances are missed meanwhile)", "err", err, "retry_in", backoff.String())
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// deliver fans out an event that came from the transport, unless this
// instance published it (its subscribers already have it).
func (b *Bus) deliver(payload []byte) {
	src, ev, err := decodeEnvelope(payload)
	if err != nil {
		b.log.Warn("undecodable event from the transport ignored", "err", err, "bytes", len(payload))
		return
	}
	if src == b.instance {
		return
	}
	b.fanout(ev)
}

func newInstanceID() string {
	var p [8]byte
	rand.Read(p[:]) //nolint:errcheck // crypto/rand never fails
	return hex.EncodeToString(p[:])
}
