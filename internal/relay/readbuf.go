package relay

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// readBufSize is a new read buffer's capacity: a 20 ms media message or
// model delta is about 400 bytes; a buffer grows for a larger message and
// returns to the pool grown.
const readBufSize = 1024

// readPool holds the buffers the calls' readers read messages into,
// shared by every call of a relay. A reader takes one only once a message
// has begun to arrive and gives it back as soon as the message is
// handled, so a call waiting for its next message (nearly all of the
// time) holds none. The buffers held audio: every byte a buffer held is
// zeroed before it returns to the pool, and bytes past a buffer's length
// are always zero.
type readPool struct {
	p    sync.Pool
	held atomic.Int64 // buffers taken and not given back
}

func newReadPool() *readPool {
	rp := &readPool{}
	rp.p.New = func() any { b := make([]byte, 0, readBufSize); return &b }
	return rp
}

// get returns an empty buffer.
func (rp *readPool) get() *[]byte {
	rp.held.Add(1)
	return rp.p.Get().(*[]byte)
}

// put zeroes b and returns it to the pool; an unusually large buffer is
// zeroed and let go. A nil b is ignored.
func (rp *readPool) put(b *[]byte) {
	if b == nil {
		return
	}
	rp.held.Add(-1)
	clear(*b) // past its length it is zero already
	if cap(*b) > maxPooledBuf {
		clear((*b)[:cap(*b)])
		return
	}
	*b = (*b)[:0]
	rp.p.Put(b)
}

// readMessage waits for the next message on conn and reads it into a
// buffer from pool, grown up to limit; the caller hands the buffer back
// with pool.put once done with the message (buf is nil only when no
// message began: err is then the socket's). text is false for a binary
// message. A message of limit bytes or more is errMessageTooLarge; when
// hardLimit > limit its rest is read and discarded, and one longer than
// hardLimit in all is errMessageOversize (read no further: the caller
// closes the socket). Whenever the buffer grows, the array it leaves is
// zeroed.
func readMessage(conn *websocket.Conn, pool *readPool, limit, hardLimit int) (buf *[]byte, text bool, err error) {
	mt, r, err := conn.NextReader()
	if err != nil {
		return nil, false, err
	}
	buf = pool.get()
	b := (*buf)[:0]
	defer func() { *buf = b }()
	for {
		if len(b) >= limit {
			b, err = discardRest(r, b, hardLimit)
			return buf, false, err
		}
		if len(b) == cap(b) {
			b = growZeroed(b, min(max(cap(b), 512), limit-len(b)))
		}
		n, err := r.Read(b[len(b):min(cap(b), limit)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return buf, mt == websocket.TextMessage, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
}

// discardRest reads the rest of an over-long message into b, whose len
// bytes were read already, until it ends or passes hardLimit. What it
// read past len is zeroed before it returns.
func discardRest(r io.Reader, b []byte, hardLimit int) ([]byte, error) {
	defer func() { clear(b[len(b):cap(b)]) }()
	total := len(b)
	if hardLimit <= total {
		return b, errMessageTooLarge
	}
	for {
		n, err := r.Read(b[:cap(b)])
		total += n
		switch {
		case total > hardLimit:
			return b, errMessageOversize
		case err == io.EOF:
			return b, errMessageTooLarge
		case err != nil:
			return b, err
		}
	}
}
