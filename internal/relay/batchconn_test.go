package relay

import (
	"bytes"
	"net"
	"sync"
	"testing"
)

// countConn records every Write call it gets.
type countConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
	closed bool
}

func (c *countConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}

func (c *countConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func TestBatchConnOneWritePerBatch(t *testing.T) {
	cc := &countConn{}
	b := &batchConn{Conn: cc, pool: newBatchPool()}
	_, _ = b.Write([]byte("direct"))
	b.holdWrites()
	for _, f := range []string{"media1", "media2", "mark"} {
		if n, err := b.Write([]byte(f)); err != nil || n != len(f) {
			t.Fatalf("held Write = %d, %v", n, err)
		}
	}
	if len(cc.writes) != 1 {
		t.Fatalf("%d writes reached the connection while held, want only the first", len(cc.writes))
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	if len(cc.writes) != 2 || string(cc.writes[1]) != "media1media2mark" {
		t.Fatalf("writes = %q, want the batch in one write", cc.writes)
	}
	if err := b.flush(); err != nil || len(cc.writes) != 2 {
		t.Fatalf("an empty flush wrote %q", cc.writes)
	}
	_, _ = b.Write([]byte("after"))
	if len(cc.writes) != 3 {
		t.Fatal("writes after a flush are not written through")
	}
}

func TestBatchConnCloseFlushesAndPooledBuffersAreZeroed(t *testing.T) {
	cc := &countConn{}
	pool := newBatchPool()
	b := &batchConn{Conn: cc, pool: pool}
	b.holdWrites()
	_, _ = b.Write([]byte("audio-bytes"))
	_, _ = b.Write([]byte("close-frame"))
	buf := b.buf
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !cc.closed || len(cc.writes) != 1 || string(cc.writes[0]) != "audio-bytesclose-frame" {
		t.Fatalf("Close wrote %q (closed %v), want the held frames first", cc.writes, cc.closed)
	}
	if len(*buf) != 0 || !bytes.Equal((*buf)[:cap(*buf)][:22], make([]byte, 22)) {
		t.Fatal("a pooled batch buffer still holds audio")
	}
}
