package relay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// Model socket limits.
const (
	modelReadLimit   = 1 << 20
	modelHandshake   = 10 * time.Second
	modelFirstEvent  = 10 * time.Second
	modelIdleTimeout = 90 * time.Second // no event (not even a pong) for this long: dead
)

// modelSession is an open Realtime socket that has been configured.
type modelSession struct {
	conn  *websocket.Conn
	batch *batchConn // nil when the connection could not be wrapped
	// beta is true when the server answered with the preview session shape.
	beta bool
	// received and sent count the messages of the handshake
	// (session.created, session.update), for the call's message counts.
	received, sent int
}

func (s *modelSession) close() {
	if s != nil && s.conn != nil {
		_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = s.conn.Close()
	}
}

var errModelRefused = errors.New("realtime server refused the session")

// dialModel opens and configures a Realtime session: it connects with the
// API key as a bearer token (GA: no OpenAI-Beta header), waits for
// session.created to learn which protocol shape the server speaks, and
// sends session.update in that shape.
func (r *Relay) dialModel(ctx context.Context, agent *Profile) (*modelSession, error) {
	start := time.Now()
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+r.cfg.OpenAIAPIKey)
	dctx, cancel := context.WithTimeout(ctx, modelHandshake)
	defer cancel()
	// A copy of the dialer per session wraps its connection so the
	// model writer can batch frames.
	d := *r.dialer
	var batch *batchConn
	d.NetDialContext = batchingDial(r.dialer.NetDialContext, r.batches, &batch)
	conn, resp, err := d.DialContext(dctx, r.cfg.RealtimeURL, hdr)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("%w: HTTP %d", errModelRefused, resp.StatusCode)
		}
		return nil, fmt.Errorf("connect to realtime server: %w", err)
	}
	conn.SetReadLimit(modelReadLimit)
	_ = conn.SetReadDeadline(time.Now().Add(modelFirstEvent))
	s := &modelSession{conn: conn, batch: batch}
	// The first event is session.created, whose shape tells GA from beta.
	buf, _, err := readMessage(conn, r.reads, modelReadLimit, 0)
	defer r.reads.put(buf)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("wait for session.created: %w", err)
	}
	msg := *buf
	var ev modelEvent
	if err := decodeModel(msg, &ev); err != nil || ev.Kind != mkSession {
		conn.Close()
		return nil, fmt.Errorf("%w: first event is not session.created", errModelRefused)
	}
	s.beta = isBetaSession(msg)
	_ = conn.SetReadDeadline(time.Time{})
	update := r.sessionFor(agent, s.beta)
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := conn.WriteMessage(websocket.TextMessage, update); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send session.update: %w", err)
	}
	s.received, s.sent = 1, 1
	r.m.ModelConnectTime.Observe(time.Since(start).Seconds())
	return s, nil
}

// isBetaSession reports whether a session.created event uses the preview
// shape (top-level audio formats, no session.type).
func isBetaSession(msg []byte) bool {
	beta := false
	_ = scanObject(msg, func(key []byte, v jsonValue) bool {
		if string(key) != "session" || v.str {
			return true
		}
		var gaType bool
		_ = scanObject(v.raw, func(k []byte, sv jsonValue) bool {
			switch string(k) {
			case "type":
				gaType = sv.text() == "realtime"
			case "input_audio_format", "modalities":
				beta = true
			}
			return true
		})
		if gaType {
			beta = false
		}
		return false
	})
	return beta
}
