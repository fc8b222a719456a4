package relay

import (
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// newUpgrader builds the upgrader for Twilio media streams: no compression
// (the payload is already-compressed audio), small buffers with the write
// buffers shared between calls, and any request carrying an Origin header
// refused (Twilio sends none; a browser always does). The caller has
// already authenticated the request.
func newUpgrader() *websocket.Upgrader {
	return &websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   2048,
		WriteBufferSize:  2048,
		WriteBufferPool:  &sync.Pool{},
		CheckOrigin:      func(r *http.Request) bool { return r.Header.Get("Origin") == "" },
	}
}

// Upgrade turns an authenticated media-stream request into a WebSocket.
// On failure the upgrader has already answered the client.
func (r *Relay) Upgrade(w http.ResponseWriter, req *http.Request) (*websocket.Conn, error) {
	return r.upgrader.Upgrade(hijackBatching{ResponseWriter: w, pool: r.batches}, req, nil)
}
