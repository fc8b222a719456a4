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
		ReadBufferSize:   1024, // held for the whole call: Twilio's messages are 20 ms media (~400 bytes), marks and a few others
		WriteBufferSize:  2048,
		WriteBufferPool:  &sync.Pool{},
		CheckOrigin:      func(r *http.Request) bool { return r.Header.Get("Origin") == "" },
	}
}

// Upgrade turns an authenticated media-stream request into a WebSocket.
// A request that is not a valid upgrade is answered by refuse (the HTTP
// layer's error responder, so the body has the API's error shape) with
// the status the handshake failed with; Upgrade then returns its error.
func (r *Relay) Upgrade(w http.ResponseWriter, req *http.Request, refuse func(w http.ResponseWriter, r *http.Request, status int, reason error)) (*websocket.Conn, error) {
	u := *r.upgrader
	u.Error = refuse
	return u.Upgrade(hijackBatching{ResponseWriter: w, pool: r.batches}, req, nil)
}
