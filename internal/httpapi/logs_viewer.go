package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/tokenbucket"
)

// Viewer socket limits.
const (
	viewerWriteWait   = 10 * time.Second
	viewerPongWait    = 60 * time.Second
	viewerPingEvery   = 25 * time.Second
	viewerMaxMessage  = 512 // bytes; the only valid message is a small filter
	viewerMsgBurst    = 5   // messages allowed at once ...
	viewerMsgRefill   = time.Second
	closeTryAgainLate = 1013 // RFC 6455 registry: "Try Again Later"
)

// Close reasons counted in voiceagent_websocket_closes_total{socket="logs"}.
const (
	closeReasonSlow     = "slow"
	closeReasonPolicy   = "policy_violation"
	closeReasonFlood    = "flood"
	closeReasonClient   = "client_closed"
	closeReasonShutdown = "shutdown"
	closeReasonWrite    = "write_failed"
)

// viewer is one /logs socket: a reader goroutine for filter messages and
// the handler goroutine as the only writer.
type viewer struct {
	s    *Server
	conn *websocket.Conn
	sub  *events.Subscription
	show bool
	ctl  chan []byte   // replies from the reader, written by the writer
	done chan struct{} // closed when the reader stops
	why  string        // reader's close reason, read after done
}

func newViewer(s *Server, conn *websocket.Conn, sub *events.Subscription) *viewer {
	return &viewer{s: s, conn: conn, sub: sub, show: s.cfg.LogsShowNumbers, ctl: make(chan []byte, 4), done: make(chan struct{})}
}

// run serves the socket until it ends and returns the close reason.
func (v *viewer) run() string {
	defer v.conn.Close()
	go v.readContained()
	ping := time.NewTicker(viewerPingEvery)
	defer ping.Stop()
	if err := v.write(controlMessage("ready", "", v.show)); err != nil {
		return closeReasonWrite
	}
	for {
		select {
		case <-v.sub.Gone():
			return v.closeFor(v.sub.Reason())
		case <-v.done:
			return v.closeFor(v.why)
		case msg := <-v.ctl:
			if err := v.write(msg); err != nil {
				return closeReasonWrite
			}
		case ev := <-v.sub.Events():
			select {
			case <-v.sub.Gone(): // dropped: the rest of the queue is stale
				return v.closeFor(v.sub.Reason())
			default:
			}
			b, err := json.Marshal(maskEvent(ev, v.show))
			if err != nil {
				v.s.log.Warn("live event not encodable", "event", ev.Type, "err", err)
				continue
			}
			if err := v.write(b); err != nil {
				return closeReasonWrite
			}
		case <-ping.C:
			if err := v.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(viewerWriteWait)); err != nil {
				return closeReasonWrite
			}
		}
	}
}

func (v *viewer) write(b []byte) error {
	v.conn.SetWriteDeadline(time.Now().Add(viewerWriteWait)) //nolint:errcheck // a failed write reports it
	return v.conn.WriteMessage(websocket.TextMessage, b)
}

// closeFor sends the close frame matching reason (best effort) and
// returns the reason for the metrics.
func (v *viewer) closeFor(reason string) string {
	var code int
	var text string
	switch reason {
	case events.ReasonSlow:
		reason, code, text = closeReasonSlow, closeTryAgainLate, "viewer too slow"
	case events.ReasonClosed:
		reason, code, text = closeReasonShutdown, websocket.CloseGoingAway, "server shutting down"
	case closeReasonFlood:
		code, text = websocket.ClosePolicyViolation, "too many messages"
	case closeReasonPolicy:
		code, text = websocket.ClosePolicyViolation, `only {"type":"filter","callSid":"CA..."} messages are accepted`
	default:
		return reason
	}
	v.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second)) //nolint:errcheck // best effort
	return reason
}

// read handles filter messages; anything else, or too many messages,
// ends the socket.
func (v *viewer) read() {
	defer close(v.done)
	v.conn.SetReadLimit(viewerMaxMessage)
	v.conn.SetReadDeadline(time.Now().Add(viewerPongWait)) //nolint:errcheck // the next read reports it
	v.conn.SetPongHandler(func(string) error {
		return v.conn.SetReadDeadline(time.Now().Add(viewerPongWait))
	})
	limit := tokenbucket.New(1/viewerMsgRefill.Seconds(), viewerMsgBurst)
	for {
		kind, b, err := v.conn.ReadMessage()
		if err != nil {
			v.why = closeReasonClient
			if errors.Is(err, websocket.ErrReadLimit) {
				v.why = closeReasonPolicy
			}
			return
		}
		if !limit.Allow(time.Now()) {
			v.why = closeReasonFlood
			return
		}
		sid, err := parseViewerMessage(kind, b)
		if err != nil {
			v.why = closeReasonPolicy
			return
		}
		v.sub.SetCallSID(sid)
		select {
		case v.ctl <- controlMessage("filter", sid, v.show):
		default: // the writer is behind; the filter applies anyway
		}
		v.conn.SetReadDeadline(time.Now().Add(viewerPongWait)) //nolint:errcheck // the next read reports it
	}
}

// viewerMessage is the one message a viewer may send.
type viewerMessage struct {
	Type    string  `json:"type"`
	CallSID *string `json:"callSid"`
}

var callSIDPattern = regexp.MustCompile(`^CA[0-9a-fA-F]{32}$`)

// parseViewerMessage accepts exactly {"type":"filter","callSid":"CA..."}
// ("" clears the filter) as a text message and returns the call SID.
func parseViewerMessage(kind int, b []byte) (string, error) {
	if kind != websocket.TextMessage {
		return "", errors.New("binary message")
	}
	var m viewerMessage
	if err := strictJSON(b, reflect.TypeFor[viewerMessage]()); err != nil {
		return "", fmt.Errorf("viewer message: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return "", fmt.Errorf("viewer message: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", errors.New("viewer message: trailing data")
	}
	if m.Type != "filter" || m.CallSID == nil {
		return "", errors.New(`viewer message: want {"type":"filter","callSid":...}`)
	}
	if *m.CallSID != "" && !callSIDPattern.MatchString(*m.CallSID) {
		return "", errors.New("viewer message: callSid is not a call SID")
	}
	return *m.CallSID, nil
}

// controlMessage is what the server says about the socket itself:
// "ready" once subscribed, "filter" after a filter change.
func controlMessage(typ, callSID string, showNumbers bool) []byte {
	b, _ := json.Marshal(map[string]any{"type": "viewer." + typ, "callSid": callSID, "showNumbers": showNumbers})
	return b
}
