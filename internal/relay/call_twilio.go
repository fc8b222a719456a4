package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/tokenbucket"
)

// twilioHalf is the Twilio socket's reader and what only it uses: the
// decoded message, the flood limiter and the
// protocol-error count. readTwilio creates it and no other goroutine can
// reach it; it reaches the rest of the call through Call.
type twilioHalf struct {
	*Call
	msg       twilioMsg
	limiter   tokenbucket.Bucket // Twilio messages: msgRatePerSec sustained, msgBurst at once
	protoErrs int
	dropsIn   int // caller frames dropped before the model was ready
	received  int
	buf       *[]byte // the read buffer of the message being handled (pooled)
}

func (c *Call) newTwilioHalf() *twilioHalf {
	return &twilioHalf{Call: c, limiter: tokenbucket.New(msgRatePerSec, msgBurst)}
}

// readTwilio is the Twilio socket's reader goroutine.
func (c *Call) readTwilio() {
	h := c.newTwilioHalf()
	defer h.exit()
	h.read()
}

// exit gives back the read buffer of a message whose handling did not
// finish (a contained panic), zeroed (it held caller audio), and stores
// the half's message count for teardown.
func (h *twilioHalf) exit() {
	h.release()
	h.Call.received.twilio.Store(int64(h.received))
}

// release returns the read buffer of the message just handled to the
// pool (zeroed) and forgets the message, whose fields pointed into it.
func (h *twilioHalf) release() {
	h.r.reads.put(h.buf)
	h.buf = nil
	h.msg.reset()
}

func (h *twilioHalf) read() {
	conn := h.tw.conn
	var extended time.Time
	for h.ctx.Err() == nil {
		h.release() // the previous message's buffer
		buf, text, err := readMessage(conn, h.r.reads, twilioMsgLimit, twilioReadLimit)
		h.buf = buf
		var msg []byte
		if buf != nil {
			msg = *buf
		}
		if err != nil {
			if h.readFailed(err) {
				return
			}
			continue
		}
		h.received++
		now := time.Now()
		if now.Sub(extended) > time.Second {
			_ = conn.SetReadDeadline(now.Add(twilioReadTimeout))
			extended = now
		}
		var derr error
		if text {
			derr = decodeTwilio(msg, &h.msg)
		}
		h.hook("twilio_message")
		// A mark echo the relay is waiting for is not counted: after a
		// clear Twilio returns every pending mark at once, one per model
		// delta (250 for a 25 s answer), which is no flood.
		if !(text && derr == nil && h.awaitedEcho(&h.msg)) && !h.limiter.Allow(now) {
			h.flooded()
			return
		}
		if !text {
			if h.protocolError("binary message") {
				return
			}
			continue
		}
		if derr != nil {
			if h.protocolError(derr.Error()) {
				return
			}
			continue
		}
		if h.onTwilio(&h.msg, now) {
			return
		}
	}
}

// readFailed handles a message that could not be read (kept out of the
// read loop, whose frame is on every path of the reader's stack); it
// reports true when the reader must stop.
func (h *twilioHalf) readFailed(err error) bool {
	switch {
	case errors.Is(err, errMessageTooLarge):
		h.received++
		return h.protocolError("message over the size cap")
	case errors.Is(err, errMessageOversize), errors.Is(err, websocket.ErrReadLimit):
		h.received++
		h.violation("oversize message")
	default:
		if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) && h.ctx.Err() == nil {
			h.log.Debug("twilio socket closed", "err", err)
		}
		h.end(endTwilioClosed)
	}
	return true
}

// flooded closes the stream of a caller over the message rate.
func (h *twilioHalf) flooded() {
	h.violation(fmt.Sprintf("more than %d messages a second", msgRatePerSec))
}

// awaitedEcho reports whether m is the echo of a mark the relay sent and
// has not seen come back (each mark passes once).
func (h *twilioHalf) awaitedEcho(m *twilioMsg) bool {
	if m.Event != twMark {
		return false
	}
	seq, ok := markSeq(m.MarkName)
	return ok && h.state.echo(seq)
}

// protocolError counts a malformed message and reports true when the
// socket was closed for having too many.
func (h *twilioHalf) protocolError(what string) bool {
	h.protoErrs++
	h.log.Debug("twilio protocol error", "error", what, "count", h.protoErrs)
	if h.protoErrs > maxProtocolErrors {
		h.violation(fmt.Sprintf("more than %d protocol errors", maxProtocolErrors))
		return true
	}
	return false
}

// violation closes the stream with 1008 and records why (a security
// alert, not also an error_occurred row).
func (c *Call) violation(why string) {
	aside(func() { c.reportViolation(why) })
}

func (c *Call) reportViolation(why string) {
	c.log.Warn("media stream closed for a policy violation", "why", why)
	c.r.audit(audit.Event{Type: audit.TypeSecurityAlert, Severity: audit.Warning, Actor: "twilio-media",
		RemoteIP: c.remoteIP, CallSID: c.callSID, Detail: map[string]any{"violation": why}})
	c.reportError(sourceTwilio, string(endPolicy), "media stream closed: "+why, false)
	c.end(endPolicy)
}

// onTwilio handles one message; it returns true when the reader must
// stop. Media and marks, nearly every message, are handled here; the rest
// aside.
func (h *twilioHalf) onTwilio(m *twilioMsg, now time.Time) (stop bool) {
	switch m.Event {
	case twMedia:
		h.onMedia(m, now)
	case twMark:
		if seq, ok := markSeq(m.MarkName); ok && h.state.markPlayed(seq) {
			h.end(h.goodbyeReason())
		}
	default:
		aside(func() { stop = h.onOther(m, now) })
	}
	return stop
}

// onOther handles a message other than media and marks.
func (h *twilioHalf) onOther(m *twilioMsg, now time.Time) bool {
	h.hook("twilio_other")
	switch m.Event {
	case twStart:
		return h.onStart(m)
	case twDTMF:
		h.lastActivity.Store(now.UnixNano())
		b := h.r.pool.get()
		b.b = append(b.b, userText("The caller pressed the key "+string(m.Digit)+" on the phone keypad.")...)
		b.add()
		if h.model.trySend(b) {
			h.requestResponse("", false)
		}
	case twStop:
		h.end(endStop)
		return true
	case twConnected:
	default:
		h.log.Debug("ignoring an unknown twilio event")
	}
	return false
}

func (h *twilioHalf) onStart(m *twilioMsg) bool {
	if h.state.streamStarted() {
		return h.protocolError("second start message")
	}
	if m.Start.CallSID != h.callSID {
		// The token was issued for another call: never relay it.
		h.violation("start names another call than the stream token")
		return true
	}
	h.state.startStream(m.Start.StreamSID)
	h.stats.started(time.Now())
	if calls := h.r.Calls; calls != nil {
		h.wg.Add(1)
		go h.contain("stream_started", func() {
			defer h.wg.Done()
			ctx, cancel := context.WithTimeout(h.ctx, cleanupTimeout)
			defer cancel()
			if err := calls.MarkStreamStarted(ctx, h.callSID); err != nil {
				h.log.Warn("recording the stream start failed", "err", err)
			}
		})
	}
	h.r.publish(events.StreamStarted, h.callSID, map[string]any{"streamSid": m.Start.StreamSID})
	h.log.Info("media stream started")
	// The agent speaks first, so the caller is never met by silence.
	h.requestResponse(h.instructions()+"\n\n"+h.greetingPrompt(), false)
	return false
}

// onMedia forwards one caller frame: the base64 payload goes into the
// append event untouched. Before the model socket is ready, the model
// queue holds the frames (about a second), so none are lost.
func (h *twilioHalf) onMedia(m *twilioMsg, now time.Time) {
	started, known := h.state.mediaIn(m.StreamSID, m.Timestamp)
	switch {
	case !started:
		h.protocolError("media before start")
		return
	case !known:
		h.protocolError("unknown streamSid")
		return
	case len(m.Track) > 0 && string(m.Track) != "inbound":
		return
	}
	n, err := checkPayload(m.Payload)
	if err != nil {
		h.protocolError("bad media payload")
		return
	}
	if n == 0 {
		return
	}
	b := h.r.pool.get()
	b.reserve(audioAppendLen(len(m.Payload)))
	b.b = appendAudioAppend(b.b, m.Payload)
	b.add()
	b.audio(now, 1)
	if h.modelReady.Load() {
		// Back-pressure from a slow model socket holds this call's reader
		// only; the write deadline bounds the wait.
		h.model.send(h.ctx, b)
		return
	}
	if !h.model.trySend(b) {
		h.dropped()
	}
}

// dropped counts a caller frame the full pre-model buffer could not take.
func (h *twilioHalf) dropped() {
	h.dropsIn++
	if h.dropsIn == 1 || h.dropsIn%500 == 0 {
		h.warn("model queue full: caller audio dropped", "frames", h.dropsIn)
	}
}
