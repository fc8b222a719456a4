package fake

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// MediaOptions configures a fake Twilio Media Streams client.
type MediaOptions struct {
	// Header is added to the WebSocket upgrade request.
	Header http.Header
	// AuthToken, if set, signs the upgrade with X-Twilio-Signature over
	// SignURL (default: the dialled URL), as Twilio does.
	AuthToken string
	// SignURL is the public wss:// URL the server validates against, when
	// it differs from the loopback URL dialled.
	SignURL string
	// StreamSid, CallSid and AccountSid default to random valid-looking sids.
	StreamSid, CallSid, AccountSid string
	// CustomParameters are sent in start.customParameters (the TwiML
	// <Parameter>s).
	CustomParameters map[string]string
	// RealTime paces sent frames at one per 20 ms and plays received audio
	// by the wall clock. Otherwise time is virtual: each sent frame
	// advances it by 20 ms and plays 20 ms (160 bytes) of queued audio.
	RealTime bool
	// NoStart skips sending connected and start on dial; call SendHandshake.
	NoStart bool
	// DiscardAudio keeps received payloads and the per-frame log out of the
	// recording (counters still run), for load tests.
	DiscardAudio bool
	// OnMedia is called by the reader goroutine for every outbound media
	// message with its decoded payload (reused after the call) and the
	// receive time.
	OnMedia func(payload []byte, at time.Time)
	// Dialer defaults to websocket.DefaultDialer.
	Dialer *websocket.Dialer
}

// StatusError is an HTTP error status from a webhook or a refused upgrade.
type StatusError struct {
	StatusCode int
	Body       string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("fake: HTTP status %d: %.200s", e.StatusCode, e.Body)
}

// MediaClient is a fake Twilio Media Streams connection to a relay. Send
// methods are meant for one goroutine; getters are safe from any.
type MediaClient struct {
	opts      MediaOptions
	conn      *websocket.Conn
	streamSid string
	callSid   string
	account   string
	done      chan struct{}
	changed   signal

	// wmu serialises writes and owns seq and wbuf. Lock order: mu, then wmu.
	wmu  sync.Mutex
	seq  int
	wbuf []byte

	// Sender state (smu).
	smu    sync.Mutex
	chunk  int
	frame  []byte
	nextAt time.Time
	pacer  *time.Timer

	mu sync.Mutex
	mediaState
}

// NewSid returns a Twilio-style sid: prefix followed by 32 hex digits.
func NewSid(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// DialMedia opens a Media Streams WebSocket to wsURL like Twilio does and,
// unless opts.NoStart, sends connected and start.
func DialMedia(ctx context.Context, wsURL string, opts MediaOptions) (*MediaClient, error) {
	hdr := http.Header{}
	for k, v := range opts.Header {
		hdr[k] = append([]string(nil), v...)
	}
	if opts.AuthToken != "" {
		signed := opts.SignURL
		if signed == "" {
			signed = wsURL
		}
		hdr.Set("X-Twilio-Signature", SignWebSocket(opts.AuthToken, signed))
	}
	d := opts.Dialer
	if d == nil {
		d = websocket.DefaultDialer
	}
	conn, resp, err := d.DialContext(ctx, wsURL, hdr)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			return nil, &StatusError{StatusCode: resp.StatusCode, Body: string(body)}
		}
		return nil, err
	}
	c := &MediaClient{
		opts:      opts,
		conn:      conn,
		streamSid: opts.StreamSid,
		callSid:   opts.CallSid,
		account:   opts.AccountSid,
		done:      make(chan struct{}),
		frame:     make([]byte, FrameBytes),
	}
	if c.streamSid == "" {
		c.streamSid = NewSid("MZ")
	}
	if c.callSid == "" {
		c.callSid = NewSid("CA")
	}
	if c.account == "" {
		c.account = NewSid("AC")
	}
	c.initPlayback()
	go c.readLoop()
	if !opts.NoStart {
		if err := c.SendHandshake(); err != nil {
			c.Drop()
			return nil, err
		}
	}
	return c, nil
}

// StreamSid is the stream sid sent in start.
func (c *MediaClient) StreamSid() string { return c.streamSid }

// CallSid is the call sid sent in start.
func (c *MediaClient) CallSid() string { return c.callSid }

// AccountSid is the account sid sent in start.
func (c *MediaClient) AccountSid() string { return c.account }

// writeEvent stamps the next sequenceNumber (if numbered) and writes ev.
func (c *MediaClient) writeEvent(numbered bool, ev map[string]any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if numbered {
		c.seq++
		ev["sequenceNumber"] = strconv.Itoa(c.seq)
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return c.writeLocked(data)
}

func (c *MediaClient) writeLocked(data []byte) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.conn.WriteMessage(websocket.TextMessage, data)
}

// SendHandshake sends connected and start (DialMedia does it unless NoStart).
func (c *MediaClient) SendHandshake() error {
	if err := c.writeEvent(false, map[string]any{"event": "connected", "protocol": "Call", "version": "1.0.0"}); err != nil {
		return err
	}
	params := c.opts.CustomParameters
	if params == nil {
		params = map[string]string{}
	}
	return c.writeEvent(true, map[string]any{"event": "start", "streamSid": c.streamSid, "start": map[string]any{
		"accountSid": c.account, "streamSid": c.streamSid, "callSid": c.callSid,
		"tracks": []string{"inbound"}, "customParameters": params,
		"mediaFormat": map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
	}})
}

// SendMedia sends one inbound media message (normally a 160-byte frame)
// and advances time by 20 ms: waiting for the next tick in RealTime mode,
// playing 20 ms of queued audio in virtual mode.
func (c *MediaClient) SendMedia(payload []byte) error {
	c.smu.Lock()
	defer c.smu.Unlock()
	return c.sendLocked(payload)
}

func (c *MediaClient) sendLocked(payload []byte) error {
	if c.opts.RealTime && !c.pace() {
		return fmt.Errorf("fake: media stream closed")
	}
	c.chunk++
	c.wmu.Lock()
	c.seq++
	b := append(c.wbuf[:0], `{"event":"media","sequenceNumber":"`...)
	b = strconv.AppendInt(b, int64(c.seq), 10)
	b = append(b, `","streamSid":"`...)
	b = append(b, c.streamSid...)
	b = append(b, `","media":{"track":"inbound","chunk":"`...)
	b = strconv.AppendInt(b, int64(c.chunk), 10)
	b = append(b, `","timestamp":"`...)
	b = strconv.AppendInt(b, int64(20*(c.chunk-1)), 10)
	b = append(b, `","payload":"`...)
	b = base64.StdEncoding.AppendEncode(b, payload)
	b = append(b, `"}}`...)
	c.wbuf = b
	err := c.writeLocked(b)
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.framesSent = c.chunk
	if !c.opts.RealTime {
		c.advanceLocked(FrameBytes)
	}
	c.mu.Unlock()
	c.changed.notify()
	return nil
}

// pace sleeps until the next 20 ms slot; it keeps a steady cadence across
// calls and restarts it after an idle gap.
func (c *MediaClient) pace() bool {
	const frame = 20 * time.Millisecond
	now := time.Now()
	if c.nextAt.IsZero() || now.Sub(c.nextAt) > frame {
		c.nextAt = now
	}
	if wait := c.nextAt.Sub(now); wait > 0 {
		if c.pacer == nil {
			c.pacer = time.NewTimer(wait)
		} else {
			c.pacer.Reset(wait)
		}
		select {
		case <-c.pacer.C:
		case <-c.done:
			return false
		}
	}
	c.nextAt = c.nextAt.Add(frame)
	return true
}

// sendRepeated sends n copies of frame, one media message each.
func (c *MediaClient) sendRepeated(frame []byte, n int) error {
	c.smu.Lock()
	defer c.smu.Unlock()
	for range n {
		if err := c.sendLocked(frame); err != nil {
			return err
		}
	}
	return nil
}

// SendSilence sends n frames of mu-law silence (n x 20 ms).
func (c *MediaClient) SendSilence(n int) error { return c.sendRepeated(silenceFrame, n) }

// SendSpeech sends n frames the fake Realtime VAD detects as speech.
func (c *MediaClient) SendSpeech(n int) error { return c.sendRepeated(speechFrame, n) }

// SendProbe sends one probe frame carrying seq (see EncodeProbeFrame)
// without allocating.
func (c *MediaClient) SendProbe(seq uint32) error {
	c.smu.Lock()
	defer c.smu.Unlock()
	PutProbeFrame(c.frame, seq)
	return c.sendLocked(c.frame)
}

// SendDTMF sends a dtmf event for one digit.
func (c *MediaClient) SendDTMF(digit string) error {
	return c.writeEvent(true, map[string]any{"event": "dtmf", "streamSid": c.streamSid,
		"dtmf": map[string]any{"track": "inbound_track", "digit": digit}})
}

// Stop sends the stop event, as Twilio does when the call ends, then
// closes the socket.
func (c *MediaClient) Stop() error {
	err := c.writeEvent(true, map[string]any{"event": "stop", "streamSid": c.streamSid,
		"stop": map[string]any{"accountSid": c.account, "callSid": c.callSid}})
	c.Close()
	return err
}

// Close sends a normal close frame, waits briefly for the server's reply
// and closes the socket. It is safe to call more than once.
func (c *MediaClient) Close() {
	c.wmu.Lock()
	_ = c.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	select {
	case <-c.done:
	case <-time.After(time.Second):
	}
	c.conn.Close()
	<-c.done
}

// Drop closes the TCP connection without a close frame, like a network
// failure.
func (c *MediaClient) Drop() {
	c.conn.Close()
	<-c.done
}

// Done is closed when the socket has ended.
func (c *MediaClient) Done() <-chan struct{} { return c.done }

// WaitFor blocks until pred returns true or ctx ends; pred is re-evaluated
// on every received message, sent frame and mark echo.
func (c *MediaClient) WaitFor(ctx context.Context, pred func() bool) error {
	return c.changed.waitFor(ctx, pred)
}
