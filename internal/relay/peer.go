package relay

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"
)

// msgBuf holds one or more outgoing WebSocket text messages back to back;
// ends marks where each message stops. Buffers are pooled per relay.
type msgBuf struct {
	b    []byte
	ends []int
}

// add closes the message written since the previous end.
func (m *msgBuf) add() { m.ends = append(m.ends, len(m.b)) }

// reserve makes room for n more bytes, so appends that follow never move
// the buffer to a new array and drop the old one uncleared.
func (m *msgBuf) reserve(n int) { m.b = growZeroed(m.b, n) }

// reset empties m for reuse. Only m.b[:len] can be dirty: bytes past len
// were zeroed by the previous reset or never written.
func (m *msgBuf) reset() {
	clear(m.b) // audio never lingers in a pooled buffer
	m.b = m.b[:0]
	m.ends = m.ends[:0]
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

// outItem is one queue entry for a socket writer.
type outItem struct {
	buf    *msgBuf
	read   time.Time // when the frame that produced it was read (audio only)
	frames int       // audio frames inside, for metrics
	weight int64     // bytes it holds of the queue's byte budget
}

// peerMetrics are the per-direction collectors, resolved once.
type peerMetrics struct {
	frames  prometheus.Counter
	latency prometheus.Observer
}

// peer is one WebSocket with its bounded send queue: bounded in entries
// and, since one entry can hold many messages, in bytes (Budget.QueueBytes).
// Exactly one writer goroutine writes to the socket; anyone may enqueue.
type peer struct {
	name    string // "twilio" or "model", the metrics label
	conn    *websocket.Conn
	batch   *batchConn // conn's connection when its writes can be batched
	queue   chan outItem
	pool    *bufPool
	m       peerMetrics
	timeout time.Duration // write deadline per message
	ping    time.Duration
	sent    atomic.Int64 // messages written (teardown reads it after the writer ended)

	maxBytes int64               // the byte budget of the queue
	room     *semaphore.Weighted // bytes free of maxBytes
	queued   atomic.Int64        // bytes queued now (for tests and metrics)
}

func newPeer(name string, queueLen, maxBytes int, pool *bufPool, m peerMetrics) *peer {
	return &peer{name: name, queue: make(chan outItem, queueLen), pool: pool, m: m, timeout: 5 * time.Second, ping: 20 * time.Second,
		maxBytes: int64(maxBytes), room: semaphore.NewWeighted(int64(maxBytes))}
}

// weigh sets the bytes it takes of the budget: its size, but never more
// than the whole budget, so one large entry still fits an empty queue.
func (p *peer) weigh(it *outItem) { it.weight = min(int64(len(it.buf.b)), p.maxBytes) }

// trySend queues it without waiting; a full queue (in entries or bytes)
// drops it (the buffer returns to the pool) and reports false.
func (p *peer) trySend(it outItem) bool {
	p.weigh(&it)
	if !p.room.TryAcquire(it.weight) {
		p.pool.put(it.buf)
		return false
	}
	select {
	case p.queue <- it:
		p.queued.Add(it.weight)
		return true
	default:
		p.room.Release(it.weight)
		p.pool.put(it.buf)
		return false
	}
}

// send queues it, waiting for room (entries and bytes) until ctx ends.
func (p *peer) send(ctx context.Context, it outItem) bool {
	p.weigh(&it)
	if !p.room.TryAcquire(it.weight) {
		if err := p.room.Acquire(ctx, it.weight); err != nil {
			p.pool.put(it.buf)
			return false
		}
	}
	select {
	case p.queue <- it:
		p.queued.Add(it.weight)
		return true
	default:
	}
	select {
	case p.queue <- it:
		p.queued.Add(it.weight)
		return true
	case <-ctx.Done():
		p.room.Release(it.weight)
		p.pool.put(it.buf)
		return false
	}
}

// done gives back the bytes of an entry taken off the queue and releases
// its buffer.
func (p *peer) done(it outItem) {
	p.queued.Add(-it.weight)
	p.room.Release(it.weight)
	p.pool.put(it.buf)
}

// sendBytes queues one control message (copied into a pooled buffer).
func (p *peer) sendBytes(ctx context.Context, msg []byte) bool {
	b := p.pool.get()
	b.b = append(b.b, msg...)
	b.add()
	return p.send(ctx, outItem{buf: b})
}

// writeLoop writes queued messages until ctx ends or a write fails, and
// pings the peer so a dead TCP connection is noticed.
func (p *peer) writeLoop(ctx context.Context) error {
	ping := time.NewTicker(p.ping)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ping.C:
			if err := p.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(p.timeout)); err != nil {
				return err
			}
		case it := <-p.queue:
			err := p.write(it)
			p.done(it)
			if err != nil {
				return err
			}
		}
	}
}

// maxBatch bounds how many queued items join one write system call.
const maxBatch = 16

// write sends it and, when the socket batches, whatever else is already
// queued (up to maxBatch items) in one write system call; nothing waits
// for more to arrive.
func (p *peer) write(it outItem) error {
	if err := p.conn.SetWriteDeadline(time.Now().Add(p.timeout)); err != nil {
		return err
	}
	if p.batch == nil {
		return p.writeItem(it)
	}
	p.batch.holdWrites()
	err := p.writeItem(it)
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
	if ferr := p.batch.flush(); err == nil {
		err = ferr
	}
	return err
}

// writeItem writes the messages of one queue item.
func (p *peer) writeItem(it outItem) error {
	start := 0
	for _, end := range it.buf.ends {
		if err := p.conn.WriteMessage(websocket.TextMessage, it.buf.b[start:end]); err != nil {
			return err
		}
		p.sent.Add(1)
		start = end
	}
	if it.frames > 0 {
		p.m.frames.Add(float64(it.frames))
		p.m.latency.Observe(time.Since(it.read).Seconds())
	}
	return nil
}

// drain releases whatever is still queued (after the writer stopped).
func (p *peer) drain() {
	for {
		select {
		case it := <-p.queue:
			p.done(it)
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

// readMessage reads the next message into buf, grown up to limit, and
// returns it; text is false for a binary message. A message of limit
// bytes or more is errMessageTooLarge; when hardLimit > limit its rest is
// read into buf and discarded, and one longer than hardLimit in all is
// errMessageOversize (read no further: the caller closes the socket).
// Whenever buf grows, the array it leaves is zeroed. The returned slice is
// the buffer to reuse (and zero when done), also on error.
func readMessage(conn *websocket.Conn, buf []byte, limit, hardLimit int) (msg []byte, text bool, err error) {
	mt, r, err := conn.NextReader()
	if err != nil {
		return buf, false, err
	}
	buf = buf[:0]
	for {
		if len(buf) >= limit {
			return discardRest(r, buf, hardLimit)
		}
		if len(buf) == cap(buf) {
			buf = growZeroed(buf, min(max(cap(buf), 512), limit-len(buf)))
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, mt == websocket.TextMessage, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
}

// discardRest reads the rest of an over-long message into buf, whose
// len bytes were read already, until it ends or passes hardLimit.
func discardRest(r io.Reader, buf []byte, hardLimit int) ([]byte, bool, error) {
	total := len(buf)
	if hardLimit <= total {
		return buf, false, errMessageTooLarge
	}
	for {
		n, err := r.Read(buf[:cap(buf)])
		total += n
		switch {
		case total > hardLimit:
			return buf, false, errMessageOversize
		case err == io.EOF:
			return buf, false, errMessageTooLarge
		case err != nil:
			return buf, false, err
		}
	}
}
