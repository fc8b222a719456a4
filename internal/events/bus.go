package events

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voiceagent/voiceagent/internal/panics"
)

// Default sizes of the bus queues.
const (
	DefaultQueueSize  = 256  // events buffered per subscriber
	DefaultOutboxSize = 8192 // events waiting for the cross-instance transport (~0.4 s at 20,000/s)
)

// Transport carries encoded events between instances (PostgreSQL
// LISTEN/NOTIFY in production). Send is called from one goroutine, in
// publication order.
type Transport interface {
	// Send delivers every payload, in order, to every listening instance,
	// this one included. The bus hands over everything queued since the
	// last Send at once (at most MaxSendBatch payloads), so a transport
	// that packs a batch into few messages keeps up with any rate the
	// publishers reach.
	Send(ctx context.Context, payloads [][]byte) error
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
	// OnShed is called with the number of events that did not reach the
	// other instances and why: ShedBacklog (the outbox was full) or
	// ShedSendFailed (the transport failed). The metrics hook.
	OnShed func(reason string, n int)
	// OnPanic is called when a bus goroutine contained a panic (where:
	// "event_sender" or "event_listener"; message redacted), after it was
	// logged; the app audits it. PanicStacks logs the stack too
	// (development only).
	OnPanic     func(where, message string)
	PanicStacks bool
	// SendInterval is the least time between the starts of two sends to
	// the transport: DefaultSendInterval when 0, none when negative.
	SendInterval time.Duration
}

// DefaultSendInterval spaces the sends to the other instances. Each send
// is a PostgreSQL statement and transaction, and wakes every listening
// connection; sending whatever was queued as soon as the last send ended
// made one every 2 ms under a burst of admissions (a few events each,
// one event per call), as many statements as the admissions themselves.
// Waiting up to 10 ms packs the same events into a fifth as many sends;
// an event alone after a quiet spell goes at once.
const DefaultSendInterval = 10 * time.Millisecond

// Reasons an event is shed (not sent to the other instances).
const (
	ShedBacklog    = "backlog"
	ShedSendFailed = "send_failed"
)

// MaxSendBatch is the most events handed to Transport.Send at once.
const MaxSendBatch = 512

// mustDeliverBacklog is how many times OutboxSize the outbox may grow
// for events that are never shed for a backlog (MustDeliver): far more
// than any instance's live calls can end while the database lags, yet a
// bound on memory if it is down for good.
const mustDeliverBacklog = 64

// MustDeliver reports whether an event of this type is kept when the
// outbox towards the other instances is full: the end of a call (a
// viewer would show it live for ever) and security alerts. Everything
// else is shed then, and a viewer can recover it from the call records
// and transcripts.
func MustDeliver(typ string) bool { return typ == CallEnded || typ == SecurityAlert }

// Bus fans events out to the subscribers of this instance and, through
// the transport, to every other instance. It implements Publisher:
// Publish never blocks, whatever the subscribers or the database do.
type Bus struct {
	log      *slog.Logger
	opts     Options
	instance string
	// own is how this instance's envelopes begin (sourcePrefix): the
	// transport hands every instance its own events back, and recognising
	// them by their first bytes skips decoding them only to drop them
	// (3 % of the server's CPU on the webhook path, one event per call).
	own       []byte
	outbox    *outbox // nil without a transport
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
	if opts.SendInterval == 0 {
		opts.SendInterval = DefaultSendInterval
	}
	b := &Bus{
		log:      log.With("component", "events"),
		opts:     opts,
		instance: newInstanceID(),
		subs:     make(map[*Subscription]struct{}),
	}
	b.own = sourcePrefix(b.instance)
	b.ctx, b.cancel = context.WithCancel(context.Background())
	if opts.Transport != nil {
		b.outbox = newOutbox(opts.OutboxSize, opts.OutboxSize*mustDeliverBacklog)
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
// is dropped, and when the outbox is full an event is shed (counted,
// logged, not sent to other instances) unless MustDeliver.
func (b *Bus) Publish(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	ev.Data = stripBidi(ev.Data)
	b.fanout(ev)
	if b.outbox == nil {
		return
	}
	if !b.outbox.put(ev) {
		b.shed(ShedBacklog, ev.Type, 1)
	}
}

// shed counts and logs n events not sent to the other instances.
func (b *Bus) shed(reason, typ string, n int) {
	if b.opts.OnShed != nil {
		b.opts.OnShed(reason, n)
	}
	total := b.lostOut.Add(int64(n))
	if total == int64(n) || total/100 != (total-int64(n))/100 {
		b.log.Warn("events not sent to other instances", "reason", reason, "event", typ, "lost", total)
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

// sendLoop hands everything queued to the transport in publication
// order, in batches: one Send per MaxSendBatch events, however many
// arrived while the last Send ran and in the rest of its SendInterval.
func (b *Bus) sendLoop() {
	defer b.wg.Done()
	var batch []Event
	payloads := make([][]byte, 0, MaxSendBatch)
	var last time.Time
	spacer := time.NewTimer(time.Hour)
	spacer.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.outbox.wake:
		}
		for {
			if wait := b.opts.SendInterval - time.Since(last); wait > 0 {
				spacer.Reset(wait)
				select {
				case <-b.ctx.Done():
					spacer.Stop()
					return
				case <-spacer.C:
				}
			}
			batch = b.outbox.take(batch[:0], MaxSendBatch)
			if len(batch) == 0 {
				break
			}
			last = time.Now()
			payloads = payloads[:0]
			for _, ev := range batch {
				payload, err := encodeEnvelope(b.instance, ev)
				if err != nil {
					b.log.Error("event not encodable; not sent to other instances", "event", ev.Type, "err", err)
					continue
				}
				payloads = append(payloads, payload)
			}
			err := b.sendBatch(payloads)
			if b.ctx.Err() != nil {
				return
			}
			if err != nil {
				b.log.Warn("events not sent to other instances", "events", len(payloads), "err", err)
				b.shed(ShedSendFailed, batch[0].Type, len(payloads))
			}
		}
	}
}

// sendBatch hands one batch to the transport. A panic there loses this
// batch only (counted as shed): it is contained and the loop goes on.
func (b *Bus) sendBatch(payloads [][]byte) (err error) {
	defer func() {
		if v := recover(); v != nil {
			b.panicked("event_sender", v)
			err = errors.New("event sender panicked")
		}
	}()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	return b.opts.Transport.Send(ctx, payloads)
}

// listen runs the transport's listener; a panic in it (or in delivering
// an event) is contained and returned as an error, so the listener is
// started again like after a lost connection.
func (b *Bus) listen(ready func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			b.panicked("event_listener", v)
			err = errors.New("event listener panicked")
		}
	}()
	return b.opts.Transport.Listen(b.ctx, ready, b.deliver)
}

// panicked logs a contained panic and tells the app.
func (b *Bus) panicked(where string, v any) {
	panics.Log(b.log, "panic contained", "events", v, b.opts.PanicStacks, "where", where)
	if b.opts.OnPanic != nil {
		b.opts.OnPanic(where, panics.Message(v))
	}
}

// listenLoop keeps the transport listening. The first failure before
// ready is reported to Start; later ones are retried with backoff.
func (b *Bus) listenLoop(ready func(), readyc <-chan struct{}, errc chan<- error) {
	defer b.wg.Done()
	backoff := 250 * time.Millisecond
	for {
		err := b.listen(ready)
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
	if bytes.HasPrefix(payload, b.own) {
		return // sent by this instance, which delivered it when published
	}
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
