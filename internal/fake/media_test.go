package fake

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/twilio/twilio-go/client"
)

// testRelay is a tiny relay stand-in: it records what the fake Twilio
// client sends, optionally echoes inbound audio back as outbound media, and
// lets the test send outbound messages.
type testRelay struct {
	srv   *httptest.Server
	echo  bool
	conns chan *relayConn
}

type relayConn struct {
	t         *testing.T
	c         *websocket.Conn
	header    http.Header
	wmu       sync.Mutex
	mu        sync.Mutex
	msgs      []map[string]any
	streamSid string
	changed   signal
}

func newTestRelay(t *testing.T, echo bool) *testRelay {
	r := &testRelay{echo: echo, conns: make(chan *relayConn, 4)}
	up := websocket.Upgrader{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/forbidden" {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		c, err := up.Upgrade(w, req, nil)
		if err != nil {
			return
		}
		rc := &relayConn{t: t, c: c, header: req.Header.Clone()}
		r.conns <- rc
		defer c.Close()
		for {
			var m map[string]any
			if err := c.ReadJSON(&m); err != nil {
				rc.changed.notify()
				return
			}
			rc.mu.Lock()
			rc.msgs = append(rc.msgs, m)
			if m["event"] == "start" {
				rc.streamSid = str(m, "streamSid")
			}
			sid := rc.streamSid
			rc.mu.Unlock()
			if r.echo && m["event"] == "media" {
				rc.send(map[string]any{"event": "media", "streamSid": sid, "media": map[string]any{"payload": str(m, "media", "payload")}})
			}
			rc.changed.notify()
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *testRelay) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(r.srv.URL, "http") + path
}

func (r *testRelay) accept(t *testing.T) *relayConn {
	t.Helper()
	select {
	case c := <-r.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
		return nil
	}
}

func (rc *relayConn) send(v any) {
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	if err := rc.c.WriteJSON(v); err != nil {
		rc.t.Errorf("relay send: %v", err)
	}
}

func (rc *relayConn) sendAudio(sid string, n int) {
	rc.send(map[string]any{"event": "media", "streamSid": sid,
		"media": map[string]any{"payload": base64.StdEncoding.EncodeToString(make([]byte, n))}})
}

func (rc *relayConn) messages(event string) []map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []map[string]any
	for _, m := range rc.msgs {
		if event == "" || m["event"] == event {
			out = append(out, m)
		}
	}
	return out
}

func (rc *relayConn) waitMessages(t *testing.T, event string, n int) []map[string]any {
	t.Helper()
	var got []map[string]any
	if err := rc.changed.waitFor(testCtx(t), func() bool { got = rc.messages(event); return len(got) >= n }); err != nil {
		t.Fatalf("waiting for %d %q messages, have %d", n, event, len(got))
	}
	return got
}

func waitClient(t *testing.T, c *MediaClient, what string, pred func() bool) {
	t.Helper()
	if err := c.WaitFor(testCtx(t), pred); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func TestMediaHandshakeFramesAndStop(t *testing.T) {
	relay := newTestRelay(t, false)
	const token, public = "tok", "wss://voice.example.test/media-stream/abc"
	c, err := DialMedia(context.Background(), relay.wsURL("/media-stream/abc"), MediaOptions{
		AuthToken: token, SignURL: public, CustomParameters: map[string]string{"token": "abc"}})
	if err != nil {
		t.Fatal(err)
	}
	rc := relay.accept(t)
	v := client.NewRequestValidator(token)
	if !v.Validate(public, map[string]string{}, rc.header.Get("X-Twilio-Signature")) {
		t.Fatal("upgrade signature rejected by twilio-go")
	}
	if err := c.SendSilence(2); err != nil {
		t.Fatal(err)
	}
	if err := c.SendSpeech(1); err != nil {
		t.Fatal(err)
	}
	if err := c.SendDTMF("7"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	msgs := rc.waitMessages(t, "", 7)
	events := make([]string, len(msgs))
	for i, m := range msgs {
		events[i] = str(m, "event")
	}
	if got, want := strings.Join(events, ","), "connected,start,media,media,media,dtmf,stop"; got != want {
		t.Fatalf("events = %s, want %s", got, want)
	}
	if _, ok := msgs[0]["sequenceNumber"]; ok || str(msgs[0], "protocol") != "Call" {
		t.Fatalf("connected = %v", msgs[0])
	}
	start := msgs[1]
	if !regexp.MustCompile(`^MZ[0-9a-f]{32}$`).MatchString(str(start, "streamSid")) ||
		str(start, "start", "streamSid") != c.StreamSid() || str(start, "start", "callSid") != c.CallSid() ||
		str(start, "start", "customParameters", "token") != "abc" ||
		str(start, "start", "mediaFormat", "encoding") != "audio/x-mulaw" || num(start, "start", "mediaFormat", "sampleRate") != 8000 {
		t.Fatalf("start = %v", start)
	}
	for i, m := range msgs[1:] {
		if got := str(m, "sequenceNumber"); got != strconv.Itoa(i+1) {
			t.Fatalf("%s sequenceNumber = %q, want %d", str(m, "event"), got, i+1)
		}
	}
	for k, m := range msgs[2:5] {
		if str(m, "media", "chunk") != strconv.Itoa(k+1) || str(m, "media", "timestamp") != strconv.Itoa(20*k) || str(m, "media", "track") != "inbound" {
			t.Fatalf("media %d = %v", k, m["media"])
		}
		p, err := base64.StdEncoding.DecodeString(str(m, "media", "payload"))
		if err != nil || len(p) != FrameBytes {
			t.Fatalf("payload %d: %d bytes, %v", k, len(p), err)
		}
	}
	if str(msgs[5], "dtmf", "digit") != "7" || str(msgs[5], "dtmf", "track") != "inbound_track" {
		t.Fatalf("dtmf = %v", msgs[5])
	}
	if str(msgs[6], "stop", "callSid") != c.CallSid() {
		t.Fatalf("stop = %v", msgs[6])
	}
	if !c.Closed() {
		t.Fatal("Stop did not close")
	}
}

func TestMediaVirtualPlaybackMarksAndClear(t *testing.T) {
	relay := newTestRelay(t, false)
	c, err := DialMedia(context.Background(), relay.wsURL("/ms"), MediaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := relay.accept(t)
	rc.waitMessages(t, "start", 1)
	sid := c.StreamSid()
	rc.sendAudio(sid, 800)
	rc.send(map[string]any{"event": "mark", "streamSid": sid, "mark": map[string]any{"name": "m1"}})
	rc.sendAudio(sid, 800)
	rc.send(map[string]any{"event": "mark", "streamSid": sid, "mark": map[string]any{"name": "m2"}})
	waitClient(t, c, "two marks", func() bool { return len(c.MarksReceived()) == 2 })
	if got := c.ReceivedBytes(); got != 1600 {
		t.Fatalf("ReceivedBytes = %d", got)
	}
	if got := c.PlayedBytes(); got != 0 {
		t.Fatalf("virtual time played %d bytes before any frame was sent", got)
	}
	if err := c.SendSilence(4); err != nil { // 80 ms: not yet at m1
		t.Fatal(err)
	}
	if got := len(c.MarksEchoed()); got != 0 {
		t.Fatalf("echoed %d marks after 80 ms", got)
	}
	if err := c.SendSilence(1); err != nil { // 100 ms: m1 reached
		t.Fatal(err)
	}
	if got, want := c.PlayedBytes(), 800; got != want {
		t.Fatalf("PlayedBytes = %d, want %d", got, want)
	}
	marks := rc.waitMessages(t, "mark", 1)
	if str(marks[0], "mark", "name") != "m1" || str(marks[0], "streamSid") != sid {
		t.Fatalf("echo = %v", marks[0])
	}
	if got := c.PendingMarks(); got != 1 {
		t.Fatalf("PendingMarks = %d", got)
	}
	rc.send(map[string]any{"event": "clear", "streamSid": sid})
	marks = rc.waitMessages(t, "mark", 2)
	if str(marks[1], "mark", "name") != "m2" {
		t.Fatalf("clear echo = %v", marks[1])
	}
	ech := c.MarksEchoed()
	if len(ech) != 2 || ech[0].Cleared || !ech[1].Cleared || len(c.Clears()) != 1 {
		t.Fatalf("echoes = %+v clears = %v", ech, c.Clears())
	}
	if c.QueuedBytes() != 0 || c.PlayedBytes() != 800 {
		t.Fatalf("after clear queued %d played %d", c.QueuedBytes(), c.PlayedBytes())
	}
	// A mark with nothing queued echoes at once.
	rc.send(map[string]any{"event": "mark", "streamSid": sid, "mark": map[string]any{"name": "m3"}})
	rc.waitMessages(t, "mark", 3)
	if len(c.Violations()) != 0 {
		t.Fatalf("violations: %v", c.Violations())
	}
}

func TestMediaViolations(t *testing.T) {
	relay := newTestRelay(t, false)
	c, err := DialMedia(context.Background(), relay.wsURL("/ms"), MediaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := relay.accept(t)
	sid := c.StreamSid()
	rc.sendAudio("MZwrong", 160)
	rc.send(map[string]any{"event": "mark", "streamSid": sid})
	rc.send(map[string]any{"event": "mark", "streamSid": sid, "mark": map[string]any{}})
	rc.send(map[string]any{"event": "media", "streamSid": sid, "media": map[string]any{"payload": "%%%"}})
	waitClient(t, c, "violations", func() bool { return len(c.Violations()) == 4 })
	v := strings.Join(c.Violations(), "\n")
	for _, want := range []string{"streamSid", "mark without mark.name", "bad payload"} {
		if !strings.Contains(v, want) {
			t.Fatalf("violations %q lack %q", v, want)
		}
	}
	if c.ReceivedBytes() != 0 || len(c.MarksReceived()) != 0 {
		t.Fatal("invalid messages were accepted")
	}
}

func TestMediaEchoProbes(t *testing.T) {
	relay := newTestRelay(t, true)
	var mu sync.Mutex
	var seqs []uint32
	c, err := DialMedia(context.Background(), relay.wsURL("/ms"), MediaOptions{OnMedia: func(p []byte, at time.Time) {
		if seq, ok := DecodeProbeFrame(p); ok {
			mu.Lock()
			seqs = append(seqs, seq)
			mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := uint32(1); i <= 20; i++ {
		if err := c.SendProbe(i); err != nil {
			t.Fatal(err)
		}
	}
	waitClient(t, c, "echoed probes", func() bool { return c.ReceivedBytes() == 20*FrameBytes })
	mu.Lock()
	defer mu.Unlock()
	for i, s := range seqs {
		if s != uint32(i+1) {
			t.Fatalf("probe %d carried seq %d", i, s)
		}
	}
	if len(seqs) != 20 || len(c.MediaLog()) != 20 {
		t.Fatalf("decoded %d probes, log %d", len(seqs), len(c.MediaLog()))
	}
}

func TestMediaRealTime(t *testing.T) {
	relay := newTestRelay(t, false)
	c, err := DialMedia(context.Background(), relay.wsURL("/ms"), MediaOptions{RealTime: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := relay.accept(t)
	start := time.Now()
	if err := c.SendSilence(10); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 170*time.Millisecond {
		t.Fatalf("10 paced frames took %v", d)
	}
	sent := time.Now()
	rc.sendAudio(c.StreamSid(), 400) // 50 ms
	rc.send(map[string]any{"event": "mark", "streamSid": c.StreamSid(), "mark": map[string]any{"name": "end"}})
	rc.waitMessages(t, "mark", 1)
	if d := time.Since(sent); d < 45*time.Millisecond {
		t.Fatalf("mark echoed after %v, before 50 ms of audio played", d)
	}
	if got := c.PlayedBytes(); got != 400 {
		t.Fatalf("PlayedBytes = %d", got)
	}
}

func TestMediaDialRejected(t *testing.T) {
	relay := newTestRelay(t, false)
	_, err := DialMedia(context.Background(), relay.wsURL("/forbidden"), MediaOptions{})
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusForbidden {
		t.Fatalf("err = %v, want 403 StatusError", err)
	}
}

func TestFetchTwiML(t *testing.T) {
	const token, public = "tok", "https://voice.example.test"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := client.NewRequestValidator(token)
		_ = r.ParseForm()
		params := map[string]string{}
		for k := range r.PostForm {
			params[k] = r.PostForm.Get(k)
		}
		if !v.Validate(public+r.RequestURI, params, r.Header.Get("X-Twilio-Signature")) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<Response><Say>Hi</Say><Connect><Stream name="s" url="wss://voice.example.test/media-stream/t0k&amp;x">` +
			`<Parameter value="` + r.PostForm.Get("CallSid") + `" name="callSid"/><Parameter name="token" value="t0k"/></Stream></Connect></Response>`))
	}))
	defer srv.Close()
	params := url.Values{"CallSid": {"CA1"}, "From": {"+15551230000"}, "To": {"+15551239999"}}
	u, p, err := FetchTwiML(context.Background(), srv.URL, public, "/voice/incoming", token, params)
	if err != nil {
		t.Fatal(err)
	}
	if u != "wss://voice.example.test/media-stream/t0k&x" || p["callSid"] != "CA1" || p["token"] != "t0k" {
		t.Fatalf("url %q params %v", u, p)
	}
	_, _, err = FetchTwiML(context.Background(), srv.URL, public, "/voice/incoming", "wrong", params)
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong token: err = %v", err)
	}
	if _, _, err := ParseStreamTwiML([]byte(`<Response><Say>x</Say></Response>`)); !errors.Is(err, ErrNoStream) {
		t.Fatalf("no stream: err = %v", err)
	}
}
