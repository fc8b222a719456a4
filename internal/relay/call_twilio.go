package relay

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/events"
)

// rateLimiter is a token bucket over Twilio messages: msgRatePerSec
// sustained, msgBurst at once. Only the Twilio reader uses it.
type rateLimiter struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func (l *rateLimiter) allow(now time.Time) bool {
	if l.last.IsZero() {
		l.last, l.tokens = now, l.burst
	}
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

// readTwilio is the Twilio socket's reader goroutine.
func (c *Call) readTwilio() {
	conn := c.tw.conn
	buf := make([]byte, 0, 1024)
	defer func() { clear(buf[:cap(buf)]) }() // it held caller audio
	var extended time.Time
	for {
		msg, text, err := readMessage(conn, buf, twilioMsgLimit, twilioReadLimit)
		if msg != nil {
			buf = msg[:0]
		}
		switch {
		case err == nil:
			c.counts.fromTwilio++
		case errors.Is(err, errMessageTooLarge):
			c.counts.fromTwilio++
			if c.protocolError("message over the size cap") {
				return
			}
			continue
		case errors.Is(err, errMessageOversize), errors.Is(err, websocket.ErrReadLimit):
			c.counts.fromTwilio++
			c.violation("oversize message")
			return
		default:
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) && c.ctx.Err() == nil {
				c.log.Debug("twilio socket closed", "err", err)
			}
			c.end(endTwilioClosed)
			return
		}
		now := time.Now()
		if now.Sub(extended) > time.Second {
			_ = conn.SetReadDeadline(now.Add(twilioReadTimeout))
			extended = now
		}
		var derr error
		if text {
			derr = decodeTwilio(msg, &c.msg)
		}
		c.hook("twilio_message")
		// A mark echo the relay is waiting for is not counted: after a
		// clear Twilio returns every pending mark at once, one per model
		// delta (250 for a 25 s answer), which is no flood.
		if !(text && derr == nil && c.awaitedEcho(&c.msg)) && !c.limiter.allow(now) {
			c.violation("more than 100 messages a second")
			return
		}
		if !text {
			if c.protocolError("binary message") {
				return
			}
			continue
		}
		if derr != nil {
			if c.protocolError(derr.Error()) {
				return
			}
			continue
		}
		if c.onTwilio(&c.msg, now) {
			return
		}
	}
}

// awaitedEcho reports whether m is the echo of a mark the relay sent and
// has not seen come back (each mark passes once).
func (c *Call) awaitedEcho(m *twilioMsg) bool {
	if m.Event != twMark {
		return false
	}
	seq, ok := markSeq(m.MarkName)
	if !ok {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pb.echo(seq)
}

// protocolError counts a malformed message and reports true when the
// socket was closed for having too many.
func (c *Call) protocolError(what string) bool {
	c.protoErrs++
	c.log.Debug("twilio protocol error", "error", what, "count", c.protoErrs)
	if c.protoErrs > maxProtocolErrors {
		c.violation("more than 5 protocol errors")
		return true
	}
	return false
}

// violation closes the stream with 1008 and records why (a security
// alert, not also an error_occurred row).
func (c *Call) violation(why string) {
	c.log.Warn("media stream closed for a policy violation", "why", why)
	c.r.audit(audit.Event{Type: audit.TypeSecurityAlert, Severity: audit.Warning, Actor: "twilio-media",
		RemoteIP: c.remoteIP, CallSID: c.callSID, Detail: map[string]any{"violation": why}})
	c.reportError(sourceTwilio, string(endPolicy), "media stream closed: "+why, false)
	c.end(endPolicy)
}

// onTwilio handles one message; it returns true when the reader must stop.
func (c *Call) onTwilio(m *twilioMsg, now time.Time) bool {
	switch m.Event {
	case twMedia:
		c.onMedia(m, now)
	case twMark:
		if seq, ok := markSeq(m.MarkName); ok {
			c.mu.Lock()
			c.pb.ack(seq)
			hang := c.resp.hangupArmed && !c.pb.pending()
			c.mu.Unlock()
			if hang {
				c.end(c.goodbyeReason())
			}
		}
	case twStart:
		return c.onStart(m)
	case twDTMF:
		c.lastActivity.Store(now.UnixNano())
		b := c.r.pool.get()
		b.b = append(b.b, userText("The caller pressed the key "+string(m.Digit)+" on the phone keypad.")...)
		b.add()
		if c.model.trySend(outItem{buf: b}) {
			c.requestResponse("", false)
		}
	case twStop:
		c.end(endStop)
		return true
	case twConnected:
	default:
		c.log.Debug("ignoring an unknown twilio event")
	}
	return false
}

func (c *Call) onStart(m *twilioMsg) bool {
	c.mu.Lock()
	dup := c.started
	c.mu.Unlock()
	if dup {
		return c.protocolError("second start message")
	}
	if m.Start.CallSID != c.callSID {
		// The token was issued for another call: never relay it.
		c.violation("start names another call than the stream token")
		return true
	}
	c.mu.Lock()
	c.started = true
	c.streamSID = m.Start.StreamSID
	c.streamSIDb = []byte(m.Start.StreamSID)
	c.mu.Unlock()
	c.stats.started(time.Now())
	if calls := c.r.Calls; calls != nil {
		c.wg.Add(1)
		go c.contain("stream_started", func() {
			defer c.wg.Done()
			ctx, cancel := context.WithTimeout(c.ctx, cleanupTimeout)
			defer cancel()
			if err := calls.MarkStreamStarted(ctx, c.callSID); err != nil {
				c.log.Warn("recording the stream start failed", "err", err)
			}
		})
	}
	c.r.publish(events.StreamStarted, c.callSID, map[string]any{"streamSid": m.Start.StreamSID})
	c.log.Info("media stream started")
	// The agent speaks first, so the caller is never met by silence.
	c.requestResponse(c.instructions()+"\n\n"+c.greetingPrompt(), false)
	return false
}

// onMedia forwards one caller frame: the base64 payload goes into the
// append event untouched. Before the model socket is ready, the model
// queue holds the frames (about a second), so none are lost.
func (c *Call) onMedia(m *twilioMsg, now time.Time) {
	c.mu.Lock()
	started := c.started
	ok := bytes.Equal(m.StreamSID, c.streamSIDb)
	if started && ok && m.Timestamp >= 0 {
		c.pb.media(m.Timestamp)
	}
	c.mu.Unlock()
	switch {
	case !started:
		c.protocolError("media before start")
		return
	case !ok:
		c.protocolError("unknown streamSid")
		return
	case len(m.Track) > 0 && string(m.Track) != "inbound":
		return
	}
	n, err := checkPayload(m.Payload, c.scratch)
	if err != nil {
		c.protocolError("bad media payload")
		return
	}
	if n == 0 {
		return
	}
	b := c.r.pool.get()
	b.reserve(audioAppendLen(len(m.Payload)))
	b.b = appendAudioAppend(b.b, m.Payload)
	b.add()
	it := outItem{buf: b, read: now, frames: 1}
	if c.modelReady.Load() {
		// Back-pressure from a slow model socket holds this call's reader
		// only; the writer's deadline bounds the wait.
		c.model.send(c.ctx, it)
		return
	}
	if !c.model.trySend(it) {
		c.dropsIn++
		if c.dropsIn == 1 || c.dropsIn%500 == 0 {
			c.warn("model queue full: caller audio dropped", "frames", c.dropsIn)
		}
	}
}
