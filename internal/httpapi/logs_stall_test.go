package httpapi_test

import (
	"net"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/events"
)

// stallFront serves a test server's handler (the same app, bus and
// routes) on a second loopback listener whose connections can be
// stalled: their writes block as if the peer had stopped reading and
// every buffer on the way were full. A client that merely never reads is
// not enough to make a viewer slow within one call: the kernel buffers
// megabytes of events for it first.
type stallFront struct {
	srv *apptest.Server // the same App, reached through this listener

	mu   sync.Mutex
	gate chan struct{} // non-nil while stalled; closed to resume
}

func newStallFront(t *testing.T, srv *apptest.Server) *stallFront {
	t.Helper()
	f := &stallFront{}
	hs := httptest.NewUnstartedServer(srv.App.Server)
	hs.Config = srv.App.Server.HTTPServer()
	hs.Listener = stallListener{Listener: hs.Listener, front: f}
	hs.Start()
	t.Cleanup(hs.Close)
	// Runs before the listener and the app close: a viewer blocked in a
	// stalled write must be able to finish.
	t.Cleanup(f.resume)
	f.srv = &apptest.Server{App: srv.App, URL: hs.URL, HTTP: hs}
	return f
}

// stall blocks every write on the front's connections until resume.
func (f *stallFront) stall() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gate == nil {
		f.gate = make(chan struct{})
	}
}

// resume lets blocked and later writes through.
func (f *stallFront) resume() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gate != nil {
		close(f.gate)
		f.gate = nil
	}
}

func (f *stallFront) stalled() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gate
}

type stallListener struct {
	net.Listener
	front *stallFront
}

func (l stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stallConn{Conn: c, front: l.front, closed: make(chan struct{})}, nil
}

// stallConn is a server-side connection whose writes wait while its
// front is stalled, honouring the write deadline as a real socket would.
type stallConn struct {
	net.Conn
	front *stallFront

	mu       sync.Mutex
	deadline time.Time // for writes
	once     sync.Once
	closed   chan struct{}
}

func (c *stallConn) Write(p []byte) (int, error) {
	if gate := c.front.stalled(); gate != nil {
		c.mu.Lock()
		dl := c.deadline
		c.mu.Unlock()
		var expired <-chan time.Time
		if !dl.IsZero() {
			tm := time.NewTimer(time.Until(dl))
			defer tm.Stop()
			expired = tm.C
		}
		select {
		case <-gate:
		case <-expired:
			return 0, os.ErrDeadlineExceeded
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
	return c.Conn.Write(p)
}

func (c *stallConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// busRecord keeps every event published on a bus, read by a subscriber
// that always keeps up: what each viewer should have seen.
type busRecord struct {
	mu  sync.Mutex
	evs []events.Event
}

func recordBus(t *testing.T, bus *events.Bus) *busRecord {
	t.Helper()
	r := &busRecord{}
	sub := bus.Subscribe()
	t.Cleanup(sub.Close)
	go func() {
		for {
			select {
			case ev := <-sub.Events():
				r.mu.Lock()
				r.evs = append(r.evs, ev)
				r.mu.Unlock()
			case <-sub.Gone():
				return
			}
		}
	}()
	return r
}

// call returns the types of the recorded events of one call.
func (r *busRecord) call(sid string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var types []string
	for _, ev := range r.evs {
		if ev.CallSID == sid {
			types = append(types, ev.Type)
		}
	}
	return types
}
