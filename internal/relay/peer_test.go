package relay

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
)

// A peer writes on the sender's goroutine when the socket is free and
// through its queue otherwise; each sender's messages still arrive in the
// order it sent them, whichever way each one went.
func TestPeerKeepsOrderAcrossDirectAndQueuedWrites(t *testing.T) {
	got := make(chan string, 4096)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			got <- string(msg)
		}
	}))
	defer srv.Close()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	p := newPeer("model", 8, 1<<20, newBufPool(), peerMetrics{})
	p.conn = conn
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var writers sync.WaitGroup
	var spawned atomic.Int32
	p.attach(ctx, func(fn func()) {
		spawned.Add(1)
		writers.Add(1)
		go func() { defer writers.Done(); fn() }()
	}, func(err error) { t.Errorf("write failed: %v", err) })

	const n = 400
	// A write in progress: the first messages must go through the queue.
	p.wmu.Lock()
	for i := range 4 {
		p.sendBytes(ctx, []byte("a"+strconv.Itoa(i)))
	}
	var senders sync.WaitGroup
	senders.Add(1)
	go func() {
		defer senders.Done()
		for i := range n {
			p.sendBytes(ctx, []byte("b"+strconv.Itoa(i)))
		}
	}()
	// The socket is free again while a0-a3 still wait for the writer
	// goroutine: a4 must not overtake them.
	p.wmu.Unlock()
	for i := 4; i < n; i++ {
		p.sendBytes(ctx, []byte("a"+strconv.Itoa(i)))
	}
	senders.Wait()

	next := map[byte]int{'a': 0, 'b': 0}
	for range 2 * n {
		msg := <-got
		seq, err := strconv.Atoi(msg[1:])
		if err != nil || seq != next[msg[0]] {
			t.Fatalf("got %q, want %c%d next", msg, msg[0], next[msg[0]])
		}
		next[msg[0]]++
	}
	if spawned.Load() == 0 {
		t.Fatal("no writer goroutine drained the queue")
	}
	cancel()
	writers.Wait()
	if q := p.pending.Load(); q != 0 {
		t.Fatalf("%d entries still pending after every message was written", q)
	}
	if p.running.Load() {
		t.Fatal("the writer goroutine did not exit with an empty queue")
	}
	if got := fmt.Sprint(p.sent.Load()); got != strconv.Itoa(2*n) {
		t.Fatalf("sent = %s, want %d", got, 2*n)
	}
}
