package relay

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/metrics"
)

// Buffers that held audio are zeroed before they are dropped, not only
// the pooled ones: a grown slice leaves its old array behind.

func allZero(b []byte) bool { return bytes.Count(b, []byte{0}) == len(b) }

func TestGrowZeroedClearsTheOutgrownArray(t *testing.T) {
	old := append(make([]byte, 0, 16), "0123456789abcdef"...)
	grown := growZeroed(old, 100)
	if string(grown) != "0123456789abcdef" || cap(grown)-len(grown) < 100 {
		t.Fatalf("grown = %q (cap %d)", grown, cap(grown))
	}
	if !allZero(old[:cap(old)]) {
		t.Fatalf("outgrown array still holds %q", old)
	}
	if same := growZeroed(grown, 10); &same[0] != &grown[0] {
		t.Fatal("growZeroed moved a buffer that had room")
	}
}

func TestBufPoolZeroesBuffersItLetsGo(t *testing.T) {
	bp := newBufPool()
	m := &msgBuf{b: make([]byte, 0, 2*maxPooledBuf)}
	m.b = append(m.b, bytes.Repeat([]byte{0x7f}, maxPooledBuf+1)...)
	arr := m.b[:cap(m.b)]
	bp.put(m)
	if !allZero(arr) {
		t.Fatal("an oversized buffer left the pool holding audio")
	}
}

func TestMsgBufReserveZeroesTheOutgrownArray(t *testing.T) {
	m := &msgBuf{b: make([]byte, 0, 32)}
	m.b = append(m.b, "audio"...)
	arr := m.b[:cap(m.b)]
	m.reserve(64)
	if string(m.b) != "audio" || !allZero(arr) {
		t.Fatalf("reserve: buffer %q, old array zeroed %v", m.b, allZero(arr))
	}
}

func TestBatchConnZeroesOutgrownBatches(t *testing.T) {
	cc := &countConn{}
	small := make([]byte, 0, 8)
	b := &batchConn{Conn: cc, pool: newBatchPool()}
	b.buf = &small
	b.holdWrites()
	_, _ = b.Write([]byte("audio"))
	first := (*b.buf)[:cap(*b.buf)]
	_, _ = b.Write(bytes.Repeat([]byte("x"), 64))
	if !allZero(first) {
		t.Fatalf("outgrown batch array still holds %q", first)
	}
	if err := b.flush(); err != nil || len(cc.writes) != 1 || !strings.HasPrefix(string(cc.writes[0]), "audiox") {
		t.Fatalf("flush wrote %q (%v)", cc.writes, err)
	}
}

func TestReadMessageZeroesOutgrownBuffers(t *testing.T) {
	msg := []byte(`{"event":"media","media":{"payload":"` + strings.Repeat("/w==", 2500) + `"}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.WriteMessage(websocket.TextMessage, msg)
		_, _, _ = conn.NextReader() // until the client closes
	}))
	defer srv.Close()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 0, readBufSize)
	first := b[:cap(b)]
	pool := &readPool{}
	pool.p.New = func() any { return &b }
	got, text, err := readMessage(conn, pool, twilioMsgLimit, twilioReadLimit)
	if err != nil || !text || !bytes.Equal(*got, msg) {
		t.Fatalf("readMessage = %d bytes, text %v, err %v", len(*got), text, err)
	}
	if !allZero(first) {
		t.Fatal("the buffer readMessage outgrew still holds the message")
	}
	arr := (*got)[:cap(*got)]
	pool.put(got)
	if !allZero(arr) || pool.held.Load() != 0 {
		t.Fatalf("a read buffer went back to the pool holding the message (held %d)", pool.held.Load())
	}
}

// A message over the size cap is read to its end and dropped; the buffer
// it was read through comes back zeroed, also past its length, where the
// rest of the message passed.
func TestReadMessageZeroesWhatItDiscards(t *testing.T) {
	msg := []byte(`{"event":"media","media":{"payload":"` + strings.Repeat("/w==", 8000) + `"}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.WriteMessage(websocket.TextMessage, msg)
		_, _, _ = conn.NextReader() // until the client closes
	}))
	defer srv.Close()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	pool := newReadPool()
	got, _, err := readMessage(conn, pool, 1024, twilioReadLimit)
	if err != errMessageTooLarge {
		t.Fatalf("readMessage err = %v, want %v", err, errMessageTooLarge)
	}
	if !allZero((*got)[len(*got):cap(*got)]) {
		t.Fatal("the discarded rest of the message is still in the buffer")
	}
	arr := (*got)[:cap(*got)]
	pool.put(got)
	if !allZero(arr) {
		t.Fatal("a read buffer went back to the pool holding the message")
	}
}

// A reader takes a read buffer only while it handles a message: a live
// call waiting for its next message holds none (the buffers are shared by
// all calls instead of one per socket).
func TestIdleCallHoldsNoReadBuffer(t *testing.T) {
	h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{ProbeAudio: true}})
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "greeting audio", c.WaitFor, func() bool { return len(c.MarksReceived()) >= 5 })
	for i := range 10 {
		if err := c.SendMedia(fake.EncodeProbeFrame(uint32(i))); err != nil {
			t.Fatalf("send media: %v", err)
		}
	}
	waitFor(t, "appends", s.WaitFor, func() bool { return s.AppendCount() >= 10 })
	waitTrue(t, "both readers waiting without a buffer", func() bool { return h.relay.reads.held.Load() == 0 })
	if n := h.relay.Live(); n != 1 {
		t.Fatalf("live calls = %d, want the call still live", n)
	}
}

func TestAudioScratchZeroedWhenOutgrown(t *testing.T) {
	cfg, err := config.Load(func(k string) string { return map[string]string{"OPENAI_API_KEY": "sk-test"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	r := New(Deps{Log: logging.Discard(), Metrics: metrics.New(nil)}, settingsOf(cfg))
	defer r.Close()
	c := r.newCall(nil, "CA00000000000000000000000000000001", "")
	defer c.cancel()
	c.state.startStream("MZ00000000000000000000000000000001")
	h := c.newModelHalf()
	delta := func(n int) {
		ev := []byte(`{"type":"response.output_audio.delta","item_id":"item_1","delta":"` +
			base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x7f}, n)) + `"}`)
		if err := decodeModel(ev, &h.ev); err != nil {
			t.Fatal(err)
		}
		h.onModel(&h.ev, time.Now())
	}
	delta(FrameBytes)
	small := h.audio[:cap(h.audio)]
	delta(10 * FrameBytes)
	if !allZero(small) {
		t.Fatal("the outgrown audio buffer still holds agent audio")
	}
	c.tw.drain()
}

// Calls share the readers' buffers through one pool: run under -race,
// several calls streaming at once must each deliver exactly their own
// frames, byte for byte and in order, both ways (a buffer handed to two
// readers at once would mix or corrupt them, and the race detector would
// see the two writers).
func TestConcurrentCallsShareReadBuffersSafely(t *testing.T) {
	h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{ProbeAudio: true}})
	const calls, frames = 6, 40
	clients := make([]*fake.MediaClient, calls)
	for i := range clients {
		clients[i] = h.dial(fake.MediaOptions{})
	}
	for i, c := range clients {
		waitFor(t, "greeting audio", c.WaitFor, func() bool { return len(c.MarksReceived()) >= 5 })
		for f := range frames {
			if err := c.SendMedia(fake.EncodeProbeFrame(uint32((i+1)*1000 + f))); err != nil {
				t.Fatalf("send media: %v", err)
			}
		}
	}
	seen := map[uint32]bool{}
	for n := 1; n <= calls; n++ {
		s := h.session(n)
		waitFor(t, "appends", s.WaitFor, func() bool { return s.AppendCount() >= frames })
		app := s.Appended()
		first, ok := fake.DecodeProbeFrame(app[0])
		if !ok || first%1000 != 0 {
			t.Fatalf("session %d: first append is not a call's first frame", n)
		}
		for f, a := range app {
			seq, ok := fake.DecodeProbeFrame(a)
			if !ok || seq != first+uint32(f) {
				t.Fatalf("session %d: append %d is probe %d (ok=%v), want %d", n, f, seq, ok, first+uint32(f))
			}
		}
		seen[first/1000] = true
	}
	if len(seen) != calls {
		t.Fatalf("frames of %d calls reached the models, want %d", len(seen), calls)
	}
	for _, c := range clients {
		got := c.Received()
		for i := 0; i < len(got)/fake.FrameBytes; i++ {
			seq, ok := fake.DecodeProbeFrame(got[i*fake.FrameBytes : (i+1)*fake.FrameBytes])
			if !ok || seq != uint32(i+1) {
				t.Fatalf("caller frame %d: probe %d (ok=%v), want %d", i, seq, ok, i+1)
			}
		}
	}
}
