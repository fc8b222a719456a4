package fake

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// rtClient is a raw gorilla client for exercising the fake Realtime server.
type rtClient struct {
	t    *testing.T
	c    *websocket.Conn
	seen []map[string]any
}

func dialRT(t *testing.T, rt *Realtime, key string, hdr http.Header) *rtClient {
	t.Helper()
	if hdr == nil {
		hdr = http.Header{}
	}
	if key != "" {
		hdr.Set("Authorization", "Bearer "+key)
	}
	c, resp, err := websocket.DefaultDialer.Dial(rt.URL(), hdr)
	if err != nil {
		t.Fatalf("dial: %v (resp %v)", err, resp)
	}
	t.Cleanup(func() { c.Close() })
	return &rtClient{t: t, c: c}
}

func (c *rtClient) send(v any) {
	c.t.Helper()
	if err := c.c.WriteJSON(v); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *rtClient) sendRaw(s string) {
	c.t.Helper()
	if err := c.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *rtClient) append(frames ...[]byte) {
	c.t.Helper()
	for _, f := range frames {
		c.send(map[string]any{"type": "input_audio_buffer.append", "audio": base64.StdEncoding.EncodeToString(f)})
	}
}

// read returns the next server event, failing the test after 5 s.
func (c *rtClient) read() map[string]any {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.c.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatalf("server sent invalid JSON %q: %v", data, err)
	}
	c.seen = append(c.seen, m)
	return m
}

// until reads events up to and including the first of type typ and returns
// them all.
func (c *rtClient) until(typ string) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	for {
		m := c.read()
		out = append(out, m)
		if m["type"] == typ {
			return out
		}
	}
}

func (c *rtClient) next(typ string) map[string]any {
	c.t.Helper()
	evs := c.until(typ)
	return evs[len(evs)-1]
}

func types(evs []map[string]any) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i], _ = e["type"].(string)
	}
	return out
}

func ofType(evs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, e := range evs {
		if e["type"] == typ {
			out = append(out, e)
		}
	}
	return out
}

func str(m map[string]any, keys ...string) string {
	v, _ := dig(m, keys...).(string)
	return v
}

func num(m map[string]any, keys ...string) int {
	v, _ := dig(m, keys...).(float64)
	return int(v)
}

func gaUpdate() map[string]any {
	return map[string]any{"type": "session.update", "session": map[string]any{
		"type": "realtime", "model": "gpt-realtime", "output_modalities": []string{"audio"},
		"audio": map[string]any{
			"input": map[string]any{"format": map[string]any{"type": "audio/pcmu"},
				"turn_detection": map[string]any{"type": "server_vad", "silence_duration_ms": 500}},
			"output": map[string]any{"format": map[string]any{"type": "audio/pcmu"}, "voice": "alloy"},
		},
		"tools": []any{map[string]any{"type": "function", "name": "get_weather", "parameters": map[string]any{"type": "object"}}},
	}}
}

// readyClient dials, reads session.created, sends a valid update and waits
// for session.updated.
func readyClient(t *testing.T, rt *Realtime) *rtClient {
	t.Helper()
	c := dialRT(t, rt, "sk-test", nil)
	c.next("session.created")
	c.send(gaUpdate())
	c.next("session.updated")
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func repeat(f []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = f
	}
	return out
}

func concatDeltas(evs []map[string]any, typ string) (audio []byte, text string) {
	var b strings.Builder
	for _, e := range ofType(evs, typ) {
		d := str(e, "delta")
		if dec, err := base64.StdEncoding.DecodeString(d); err == nil && strings.Contains(typ, "audio.delta") {
			audio = append(audio, dec...)
		}
		b.WriteString(d)
	}
	return audio, b.String()
}
