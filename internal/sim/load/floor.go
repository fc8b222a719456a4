package load

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// FloorOptions configure the relay floor (ServeFloor).
type FloorOptions struct {
	// RealtimeURL is the model's WebSocket address (REALTIME_URL).
	RealtimeURL string
	// APIKey is sent as the model's bearer token (OPENAI_API_KEY).
	APIKey string
	// PublicURL is the address the TwiML's stream URL is built on.
	PublicURL string
}

// ServeFloor serves the relay floor on ln until ctx ends: a minimal
// pass-through relay in place of the server, so every relay figure of
// `simulate --load` can be read as a ratio to what merely moving the same
// messages costs on the same machine in the same session. It answers
// every /voice/incoming with a <Connect><Stream> (no signature check, no
// database), and per media stream dials the model, asks for a response,
// forwards each caller media message as an input_audio_buffer.append and
// each model audio delta as one media plus one mark message, and closes
// both sockets on the caller's stop. One goroutine per direction, each the
// only writer of the socket it writes to: no queue, no hand-off.
func ServeFloor(ctx context.Context, ln net.Listener, o FloorOptions) error {
	f := &floor{opts: o, up: websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /voice/incoming", f.incoming)
	mux.HandleFunc("POST /voice/status", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /media-stream/{token}", f.stream)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	return nil
}

type floor struct {
	opts FloorOptions
	up   websocket.Upgrader
}

func (f *floor) incoming(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	host := "127.0.0.1"
	if u, err := url.Parse(f.opts.PublicURL); err == nil && u.Host != "" {
		host = u.Host
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://`+host+`/media-stream/floor"/></Connect></Response>`)
}

// twilioIn is the part of a Twilio media-stream message the floor reads.
type twilioIn struct {
	Event string `json:"event"`
	Start struct {
		StreamSid string `json:"streamSid"`
	} `json:"start"`
	Media struct {
		Payload string `json:"payload"`
	} `json:"media"`
}

// modelIn is the part of a model event the floor reads.
type modelIn struct {
	Type  string `json:"type"`
	Delta string `json:"delta"`
}

func (f *floor) stream(w http.ResponseWriter, r *http.Request) {
	caller, err := f.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer caller.Close()
	// Read up to the start message for the stream's sid.
	var streamSid string
	for streamSid == "" {
		var m twilioIn
		if err := caller.ReadJSON(&m); err != nil {
			return
		}
		if m.Event == "start" {
			streamSid = m.Start.StreamSid
		}
	}
	model, _, err := websocket.DefaultDialer.DialContext(r.Context(), f.opts.RealtimeURL,
		http.Header{"Authorization": {"Bearer " + f.opts.APIKey}})
	if err != nil {
		return
	}
	defer model.Close()
	if err := model.WriteMessage(websocket.TextMessage, []byte(`{"type":"response.create"}`)); err != nil {
		return
	}
	done := make(chan struct{})
	go func() { // model -> caller: one media and one mark per delta
		defer close(done)
		defer caller.Close() // unblocks the caller reader when the model goes
		var m modelIn
		var buf []byte
		n := 0
		for {
			_, data, err := model.ReadMessage()
			if err != nil {
				return
			}
			m = modelIn{}
			if json.Unmarshal(data, &m) != nil || !strings.HasSuffix(m.Type, "audio.delta") {
				continue
			}
			buf = append(buf[:0], `{"event":"media","streamSid":"`...)
			buf = append(buf, streamSid...)
			buf = append(buf, `","media":{"payload":"`...)
			buf = append(buf, m.Delta...)
			buf = append(buf, `"}}`...)
			if caller.WriteMessage(websocket.TextMessage, buf) != nil {
				return
			}
			n++
			buf = append(buf[:0], `{"event":"mark","streamSid":"`...)
			buf = append(buf, streamSid...)
			buf = append(buf, `","mark":{"name":"`...)
			buf = strconv.AppendInt(buf, int64(n), 10)
			buf = append(buf, `"}}`...)
			if caller.WriteMessage(websocket.TextMessage, buf) != nil {
				return
			}
		}
	}()
	// caller -> model: one append per media message; stop ends the call.
	var buf []byte
	for {
		_, data, err := caller.ReadMessage()
		if err != nil {
			break
		}
		var m twilioIn
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		if m.Event == "stop" {
			break
		}
		if m.Event != "media" {
			continue // marks echoed back, dtmf
		}
		buf = append(buf[:0], `{"type":"input_audio_buffer.append","audio":"`...)
		buf = append(buf, m.Media.Payload...)
		buf = append(buf, `"}`...)
		if err := model.WriteMessage(websocket.TextMessage, buf); err != nil {
			break
		}
	}
	_ = model.Close()
	<-done
	_ = caller.Close()
}

// errFloorEnv names a missing floor setting.
var errFloorEnv = errors.New("the floor needs PORT and REALTIME_URL")

// FloorFromEnv reads the floor's settings from a child's environment.
func FloorFromEnv(getenv func(string) string) (port string, o FloorOptions, err error) {
	port = getenv("PORT")
	o = FloorOptions{RealtimeURL: getenv("REALTIME_URL"), APIKey: getenv("OPENAI_API_KEY"), PublicURL: getenv("PUBLIC_URL")}
	if port == "" || o.RealtimeURL == "" {
		return "", o, errFloorEnv
	}
	return port, o, nil
}
