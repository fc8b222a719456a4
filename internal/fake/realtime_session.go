package fake

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// writeTimeout bounds every frame write so a stuck client cannot pin a
// session forever.
const writeTimeout = 10 * time.Second

// RealtimeSession is one client connection to the fake Realtime server. Its
// methods are safe for concurrent use by tests.
type RealtimeSession struct {
	// ID is the session id sent in session.created ("sess_<n>").
	ID string
	// Model is the model query parameter of the upgrade request.
	Model string
	// Header is a copy of the upgrade request headers.
	Header http.Header

	rt       *Realtime
	conn     *websocket.Conn
	out      chan outMsg
	done     chan struct{}
	stopOnce sync.Once
	respWG   sync.WaitGroup
	reject   bool
	flooded  atomic.Int64 // hostile frames queued (realtime_hostile.go)

	// Reader-goroutine-only state.
	msg      clientMsg
	audioBuf []byte
	b64Buf   []byte

	mu sync.Mutex
	sessionState
}

type outMsg struct {
	data      []byte
	audio     []byte // decoded audio of a delta, for OnAudioSent
	closeCode int    // if non-zero, send a close frame with closeText and close
	closeText string
}

func newRealtimeSession(rt *Realtime, conn *websocket.Conn, n int, model string, h http.Header) *RealtimeSession {
	s := &RealtimeSession{
		ID:     "sess_" + strconv.Itoa(n),
		Model:  model,
		Header: h,
		rt:     rt,
		conn:   conn,
		out:    make(chan outMsg, 256),
		done:   make(chan struct{}),
	}
	s.items = make(map[string]*convItem)
	s.calls = make(map[string]string)
	s.config = defaultSessionConfig(rt.opts.Beta, s.ID, model)
	return s
}

func (s *RealtimeSession) rejectBeta() { s.reject = true }

func (s *RealtimeSession) run() {
	s.conn.SetReadLimit(4 << 20)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop()
	}()
	if s.reject {
		s.enqueue(outMsg{closeCode: 4000, closeText: "beta_api_shape_disabled"})
	} else {
		s.mu.Lock()
		s.emitLocked(map[string]any{"type": "session.created", "session": s.config})
		s.mu.Unlock()
		if d := s.rt.opts.ExpireAfter; d > 0 {
			t := time.AfterFunc(d, s.Expire)
			defer t.Stop()
		}
	}
	s.readLoop()
	s.stop()
	s.conn.Close()
	<-writerDone
	s.respWG.Wait()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

func (s *RealtimeSession) stop() { s.stopOnce.Do(func() { close(s.done) }) }

func (s *RealtimeSession) readLoop() {
	var buf bytes.Buffer
	for {
		_, rd, err := s.conn.NextReader()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				s.mu.Lock()
				s.closeCode = ce.Code
				s.mu.Unlock()
			}
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(rd); err != nil {
			return
		}
		s.handle(buf.Bytes(), time.Now())
		s.rt.changed.notify()
	}
}

func (s *RealtimeSession) writeLoop() {
	cb := s.rt.opts.OnAudioSent
	for {
		select {
		case <-s.done:
			return
		case m := <-s.out:
			_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if m.closeCode != 0 {
				_ = s.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(m.closeCode, m.closeText))
				s.conn.Close()
				s.stop()
				return
			}
			if err := s.conn.WriteMessage(websocket.TextMessage, m.data); err != nil {
				s.conn.Close()
				s.stop()
				return
			}
			if m.audio != nil && cb != nil {
				cb(s, m.audio, time.Now())
			}
		}
	}
}

func (s *RealtimeSession) enqueue(m outMsg) {
	select {
	case s.out <- m:
	case <-s.done:
	}
}

// emitLocked stamps an event_id on ev, encodes it and queues it. Callers
// hold s.mu, which keeps the order of events from the reader, response
// goroutines and test controls consistent.
func (s *RealtimeSession) emitLocked(ev map[string]any) {
	s.eventSeq++
	ev["event_id"] = "event_" + strconv.Itoa(s.eventSeq)
	data, err := json.Marshal(ev)
	if err != nil {
		panic("fake: marshal server event: " + err.Error())
	}
	s.enqueue(outMsg{data: data})
}

// errorLocked sends an error event and records it.
func (s *RealtimeSession) errorLocked(code, param, message, clientEventID string) {
	e := map[string]any{"type": "invalid_request_error", "code": code, "message": message, "param": nil, "event_id": nil}
	if param != "" {
		e["param"] = param
	}
	if clientEventID != "" {
		e["event_id"] = clientEventID
	}
	s.errors = append(s.errors, ServerError{Code: code, Param: param, Message: message, EventID: clientEventID, At: time.Now()})
	s.emitLocked(map[string]any{"type": "error", "error": e})
}

// SendEvent queues an arbitrary server event (for example an unknown event
// type), stamping an event_id unless ev already has one.
func (s *RealtimeSession) SendEvent(ev map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := ev["event_id"]; ok {
		data, _ := json.Marshal(ev)
		s.enqueue(outMsg{data: data})
		return
	}
	s.emitLocked(ev)
}

// SendRaw queues a raw text frame, e.g. malformed JSON.
func (s *RealtimeSession) SendRaw(data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enqueue(outMsg{data: append([]byte(nil), data...)})
}

// Expire sends the session_expired error the real API sends at its maximum
// session length, then closes the socket normally.
func (s *RealtimeSession) Expire() {
	s.mu.Lock()
	s.errorLocked("session_expired", "", "Your session hit the maximum duration of 60 minutes.", "")
	s.mu.Unlock()
	s.enqueue(outMsg{closeCode: websocket.CloseNormalClosure, closeText: "session expired"})
}

// CloseWith sends a close frame with code and text after the events already
// queued, then closes the socket.
func (s *RealtimeSession) CloseWith(code int, text string) {
	s.enqueue(outMsg{closeCode: code, closeText: text})
}

// CloseAbruptly drops the TCP connection without a close frame, as a
// crashing server or a network failure would.
func (s *RealtimeSession) CloseAbruptly() { s.conn.Close() }

// Done is closed when the session's socket has ended.
func (s *RealtimeSession) Done() <-chan struct{} { return s.done }

// WaitFor blocks until pred returns true or ctx ends; pred is re-evaluated
// whenever any session of the server records something.
func (s *RealtimeSession) WaitFor(ctx context.Context, pred func() bool) error {
	return s.rt.changed.waitFor(ctx, pred)
}
