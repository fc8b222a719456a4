package relay

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"
)

// msgBuf holds one or more outgoing WebSocket text messages back to back
// (ends marks where each message stops): one entry of a socket's send
// queue. Buffers are pooled per relay.
type msgBuf struct {
	b      []byte
	ends   []int
	read   time.Time // when the frame that produced it was read (audio only)
	frames int       // audio frames inside, for metrics
	weight int64     // bytes it holds of the queue's byte budget while queued
}

// add closes the message written since the previous end.
func (m *msgBuf) add() { m.ends = append(m.ends, len(m.b)) }

// audio marks m as carrying frames audio frames read at read, for the
// relay-latency and frame metrics.
func (m *msgBuf) audio(read time.Time, frames int) *msgBuf {
	m.read, m.frames = read, frames
	return m
}

// reserve makes room for n more bytes, so appends that follow never move
// the buffer to a new array and drop the old one uncleared.
func (m *msgBuf) reserve(n int) { m.b = growZeroed(m.b, n) }

// reset empties m for reuse. Only m.b[:len] can be dirty: bytes past len
// were zeroed by the previous reset or never written.
func (m *msgBuf) reset() {
	clear(m.b) // audio never lingers in a pooled buffer
	m.b = m.b[:0]
	m.ends = m.ends[:0]
	m.read, m.frames, m.weight = time.Time{}, 0, 0
}

// growZeroed returns buf with room for n more bytes. When that needs a
// larger array, the old one is zeroed before it is dropped: it may hold
// audio, and nothing else would ever clear it.
func growZeroed(buf []byte, n int) []byte {
	if cap(buf)-len(buf) >= n {
		return buf
	}
	nb := make([]byte, len(buf), max(2*cap(buf), len(buf)+n, 512))
	copy(nb, buf)
	clear(buf[:cap(buf)])
	return nb
}

type bufPool struct{ p sync.Pool }

func newBufPool() *bufPool {
	bp := &bufPool{}
	bp.p.New = func() any { return &msgBuf{b: make([]byte, 0, 2048), ends: make([]int, 0, 8)} }
	return bp
}

func (bp *bufPool) get() *msgBuf { return bp.p.Get().(*msgBuf) }

func (bp *bufPool) put(m *msgBuf) {
	m.reset()
	if cap(m.b) > maxPooledBuf {
		return // let an unusually large buffer go (zeroed by reset)
	}
	bp.p.Put(m)
}

// maxPooledBuf is the largest buffer worth keeping in a pool.
const maxPooledBuf = 64 << 10

// peerMetrics are the per-direction collectors, resolved once.
type peerMetrics struct {
	frames  prometheus.Counter
	latency prometheus.Observer
}

// peer is one WebSocket's sending side: whoever sends writes the socket
// itself when nothing is queued and no one else is writing (the common
// case: no hand-off to another goroutine), and otherwise queues the
// message on a bounded queue (bounded in entries and, since one entry can
// hold many messages, in bytes: Budget.QueueBytes), which a writer
// goroutine started on demand drains, in order, and then exits. Writes
// have a deadline, so a slow peer holds its sender at most that long
// before the write fails and the call ends.
type peer struct {
	name    string // "twilio" or "model", the metrics label
	conn    *websocket.Conn
	batch   *batchConn // conn's connection when its writes can be batched
	queue   chan *msgBuf
	pool    *bufPool
	m       peerMetrics
	timeout time.Duration // write deadline per message
	ping    time.Duration
	sent    atomic.Int64 // messages written

	// Set by attach, once the socket may be written: without them (a
	// peer in a unit test, or the model before its socket opens) sends
	// only queue.
	ctx    context.Context // the call's
	spawn  func(fn func()) // starts a goroutine of the call
	failed func(error)     // a write failed: ends the call

	wmu       sync.Mutex   // held by whoever writes the socket
	writeFrom atomic.Int64 // unix ns the write in progress began; 0 when none (a stalled peer shows)
	pending   atomic.Int64 // entries queued and not yet written or dropped
	running   atomic.Bool  // a writer goroutine is draining the queue
	attached  atomic.Bool

	maxBytes int64               // the byte budget of the queue
	room     *semaphore.Weighted // bytes free of maxBytes
	queued   atomic.Int64        // bytes queued now (for tests and metrics)
}

func newPeer(name string, queueLen, maxBytes int, pool *bufPool, m peerMetrics) *peer {
	return &peer{name: name, queue: make(chan *msgBuf, queueLen), pool: pool, m: m, timeout: 5 * time.Second, ping: 20 * time.Second,
		maxBytes: int64(maxBytes), room: semaphore.NewWeighted(int64(maxBytes))}
}

// attach lets the peer write its socket from now on: spawn starts a
// goroutine of the call (for draining a backlog), failed is told of a
// failed write. Anything queued before is written first. The socket is
// pinged every p.ping (from a timer, not a goroutine of its own) until
// ctx ends, so a dead TCP connection is noticed.
func (p *peer) attach(ctx context.Context, spawn func(fn func()), failed func(error)) {
	p.ctx, p.spawn, p.failed = ctx, spawn, failed
	p.attached.Store(true)
	p.kick()
	every(ctx, p.ping, func() {
		if err := p.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(p.timeout)); err != nil {
			p.failed(err)
		}
	})
}

// stalledFor is how long the write in progress has taken (0 when none).
func (p *peer) stalledFor(now time.Time) time.Duration {
	if from := p.writeFrom.Load(); from != 0 {
		return now.Sub(time.Unix(0, from))
	}
	return 0
}

// weigh sets the bytes it takes of the budget: its size, but never more
// than the whole budget, so one large entry still fits an empty queue.
func (p *peer) weigh(m *msgBuf) { m.weight = min(int64(len(m.b)), p.maxBytes) }

// trySend sends m without waiting: written at once when the socket is
// free, else queued; a full queue (in entries or bytes) drops it (the
// buffer returns to the pool) and reports false.
func (p *peer) trySend(m *msgBuf) bool {
	if p.writeNow(m) {
		return true
	}
	p.weigh(m)
	if !p.room.TryAcquire(m.weight) {
		p.pool.put(m)
		return false
	}
	w := p.enqueuing(m)
	select {
	case p.queue <- m: // from here on m is the writer's
		p.kick()
		return true
	default:
		p.unqueue(m, w)
		return false
	}
}

// send sends m, written at once when the socket is free, else queued,
// waiting for room (entries and bytes) until ctx ends.
func (p *peer) send(ctx context.Context, m *msgBuf) bool {
	if p.writeNow(m) {
		return true
	}
	p.weigh(m)
	if !p.room.TryAcquire(m.weight) {
		if err := p.room.Acquire(ctx, m.weight); err != nil {
			p.pool.put(m)
			return false
		}
	}
	w := p.enqueuing(m)
	select {
	case p.queue <- m: // from here on m is the writer's
		p.kick()
		return true
	default:
	}
	select {
	case p.queue <- m:
		p.kick()
		return true
	case <-ctx.Done():
		p.unqueue(m, w)
		return false
	}
}

// enqueuing counts m as queued before it is handed to the queue (after
// that, the writer may already have written and released it) and returns
// its weight.
func (p *peer) enqueuing(m *msgBuf) int64 {
	p.pending.Add(1)
	p.queued.Add(m.weight)
	return m.weight
}

// unqueue takes back the count of an entry that never reached the queue
// and releases it.
func (p *peer) unqueue(m *msgBuf, weight int64) {
	p.queued.Add(-weight)
	p.pending.Add(-1)
	p.room.Release(weight)
	p.pool.put(m)
}

// writeNow writes m on the caller's goroutine when the peer is attached,
// its call is live, nothing is queued ahead of m and no one else is
// writing; it reports false (m untouched) otherwise. A failed write is
// reported to p.failed; m is released either way.
func (p *peer) writeNow(m *msgBuf) bool {
	if !p.attached.Load() || p.pending.Load() != 0 || p.ctx.Err() != nil || !p.wmu.TryLock() {
		return false
	}
	if p.pending.Load() != 0 { // queued while the lock was taken
		p.wmu.Unlock()
		return false
	}
	err := p.write(m, false)
	p.wmu.Unlock()
	p.pool.put(m)
	if err != nil {
		p.failed(err)
	}
	return true
}

// done gives back the bytes of a queued entry taken off the queue and
// releases its buffer.
func (p *peer) done(m *msgBuf) {
	p.queued.Add(-m.weight)
	p.room.Release(m.weight)
	p.pool.put(m)
	p.pending.Add(-1)
}

// sendBytes sends one control message (copied into a pooled buffer).
func (p *peer) sendBytes(ctx context.Context, msg []byte) bool {
	b := p.pool.get()
	b.b = append(b.b, msg...)
	b.add()
	return p.send(ctx, b)
}

// kick starts a writer goroutine for the queue unless one is running or
// the peer is not attached yet.
func (p *peer) kick() {
	if p.attached.Load() && len(p.queue) > 0 && p.running.CompareAndSwap(false, true) {
		p.spawn(p.drainQueue)
	}
}

// drainQueue is the on-demand writer: it writes queued entries in order
// until the queue is empty, a write fails or the call ends (teardown
// releases what is left), then exits. An entry queued as it stops is
// picked up by it or by a writer its sender starts.
func (p *peer) drainQueue() {
	for p.ctx.Err() == nil {
		select {
		case m := <-p.queue:
			p.wmu.Lock()
			err := p.write(m, true)
			p.wmu.Unlock()
			if err != nil {
				p.running.Store(false)
				p.failed(err)
				return
			}
			continue
		default:
		}
		p.running.Store(false)
		if len(p.queue) == 0 || !p.running.CompareAndSwap(false, true) {
			return
		}
	}
	p.running.Store(false)
}

// maxBatch bounds how many queued entries join one write system call.
const maxBatch = 16

// write sends m and, when m came off the queue, whatever else is already
// queued (up to maxBatch entries), in one write system call when the
// socket batches; nothing waits for more to arrive. The writer holds wmu.
func (p *peer) write(m *msgBuf, queued bool) error {
	p.writeFrom.Store(time.Now().UnixNano())
	defer p.writeFrom.Store(0)
	if err := p.conn.SetWriteDeadline(time.Now().Add(p.timeout)); err != nil {
		if queued {
			p.done(m)
		}
		return err
	}
	if p.batch != nil {
		p.batch.holdWrites()
	}
	err := p.writeItem(m)
	if queued {
		p.done(m)
		for n := 1; err == nil && n < maxBatch; n++ {
			select {
			case more := <-p.queue:
				err = p.writeItem(more)
				p.done(more)
				continue
			default:
			}
			break
		}
	}
	if p.batch != nil {
		if ferr := p.batch.flush(); err == nil {
			err = ferr
		}
	}
	return err
}

// writeItem writes the messages of one queue entry.
func (p *peer) writeItem(m *msgBuf) error {
	start := 0
	for _, end := range m.ends {
		if err := p.conn.WriteMessage(websocket.TextMessage, m.b[start:end]); err != nil {
			return err
		}
		p.sent.Add(1)
		start = end
	}
	if m.frames > 0 {
		p.m.frames.Add(float64(m.frames))
		p.m.latency.Observe(time.Since(m.read).Seconds())
	}
	return nil
}

// drain releases whatever is still queued (after the call's goroutines
// ended).
func (p *peer) drain() {
	for {
		select {
		case m := <-p.queue:
			p.done(m)
		default:
			return
		}
	}
}

// closeWith sends a close frame with code and reason, then closes the
// socket. Safe to call concurrently with the reader and the writer.
func (p *peer) closeWith(code int, reason string) {
	if p.conn == nil {
		return
	}
	msg := websocket.FormatCloseMessage(code, reason)
	_ = p.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	_ = p.conn.Close()
}

var (
	errMessageTooLarge = errors.New("message over the size cap")
	errMessageOversize = errors.New("message over the hard size cap")
)
