package relay

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync"
)

// batchConn lets a socket's writer put several WebSocket frames into one
// write system call: between hold and flush, frames are collected. A
// model delta becomes several Twilio media messages and a mark, and a
// write system call costs far more than the bytes: at 200 calls, half the
// relay's CPU time was spent in write(2) and read(2).
//
// gorilla serialises frame writes; mu also orders them against flush, so
// a control frame written by another goroutine (a close) is never split.
type batchConn struct {
	net.Conn
	pool *sync.Pool // of *[]byte, shared by the relay's calls

	mu   sync.Mutex
	hold bool
	buf  *[]byte
}

// Write collects p while held, else writes it through.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.hold {
		if b.buf == nil {
			b.buf = b.pool.Get().(*[]byte)
		}
		*b.buf = append(growZeroed(*b.buf, len(p)), p...) // an outgrown array is zeroed
		return len(p), nil
	}
	return b.Conn.Write(p)
}

// holdWrites starts collecting frames.
func (b *batchConn) holdWrites() {
	b.mu.Lock()
	b.hold = true
	b.mu.Unlock()
}

// flush writes what was collected in one call and stops collecting. The
// buffer (which held audio) is zeroed before it returns to the pool.
func (b *batchConn) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hold = false
	if b.buf == nil {
		return nil
	}
	buf := b.buf
	b.buf = nil
	_, err := b.Conn.Write(*buf)
	clear(*buf)
	if cap(*buf) <= maxPooledBuf {
		*buf = (*buf)[:0]
		b.pool.Put(buf)
	}
	return err
}

// Close writes what is collected (a close frame queued behind a batch
// goes out) and closes the connection.
func (b *batchConn) Close() error {
	_ = b.flush()
	return b.Conn.Close()
}

func newBatchPool() *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}
}

// batchOf returns conn as a batchConn, or nil when it is not one.
func batchOf(conn net.Conn) *batchConn {
	b, _ := conn.(*batchConn)
	return b
}

// hijackBatching wraps a ResponseWriter so the connection the WebSocket
// upgrade hijacks is a batchConn.
type hijackBatching struct {
	http.ResponseWriter
	pool *sync.Pool
}

// Hijack hands over the connection, wrapped.
func (h hijackBatching) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &batchConn{Conn: conn, pool: h.pool}, brw, nil
}

// Unwrap lets http.ResponseController reach the original writer.
func (h hijackBatching) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// batchingDial wraps the connections dial opens in batchConns and reports
// the last one through got (one dialer copy per model session).
func batchingDial(dial func(ctx context.Context, network, addr string) (net.Conn, error), pool *sync.Pool, got **batchConn) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		b := &batchConn{Conn: conn, pool: pool}
		*got = b
		return b, nil
	}
}
