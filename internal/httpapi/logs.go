package httpapi

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
)

// bearerSubprotocol is the Sec-WebSocket-Protocol a browser offers
// first, followed by the token ("bearer, <token>"); the server answers
// with it alone. Browsers cannot set an Authorization header on a
// WebSocket, and a token in the URL would end up in proxy and history
// logs.
const bearerSubprotocol = "bearer"

// handleLogs is GET /logs: the live-event WebSocket for operators. The
// API bearer token is required (Authorization header, or the bearer
// subprotocol for browsers); a query string is refused so a token is
// never put in a URL. At most MAX_LOG_VIEWERS sockets are open at once.
func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	p, viaProtocol, ok := s.logsAuth(w, r)
	if !ok || !s.allowed(w, r, "logs", p, apitoken.CallsRead) {
		return
	}
	name := p.name
	if n := s.logViewers.Add(1); n > int64(s.cfg.MaxLogViewers) {
		s.logViewers.Add(-1)
		s.Metrics.WebSocketCloses.WithLabelValues("logs", "too_many_viewers").Inc()
		w.Header().Set("Retry-After", "10")
		s.writeError(w, r, apperr.New(apperr.Unavailable, "too many live viewers"))
		return
	}
	defer s.logViewers.Add(-1)

	up := websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  4096,
		CheckOrigin:      s.allowedOrigin,
		Error:            s.upgradeError,
	}
	if viaProtocol {
		up.Subprotocols = []string{bearerSubprotocol}
	}
	// Subscribe before the upgrade so nothing published after the client
	// sees the "ready" message is missed.
	sub := s.Events.Subscribe()
	defer sub.Close()
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		s.logger(r).Info("logs upgrade failed", "err", err)
		return
	}
	s.Audit.Record(audit.Event{
		Type:     audit.TypeConnectionAttempt,
		Actor:    name,
		RemoteIP: ClientIP(r.Context()),
		Detail:   map[string]any{"surface": "logs", "result": "accepted"},
	})
	v := newViewer(s, conn, sub)
	reason := v.run()
	s.Metrics.WebSocketCloses.WithLabelValues("logs", reason).Inc()
	s.logger(r).Info("logs viewer closed", "reason", reason)
}

// logsAuth checks the bearer token of a /logs upgrade (through the same
// lockout as /api) and answers 429 or 401 itself on failure. viaProtocol
// reports that the token came as the bearer subprotocol, which the
// upgrade must then echo.
func (s *Server) logsAuth(w http.ResponseWriter, r *http.Request) (p principal, viaProtocol, ok bool) {
	p, ok = s.authorize(w, r, "logs", func() (principal, error) {
		if r.URL.RawQuery != "" {
			return principal{}, apperr.New(apperr.Unauthenticated, "Query parameters are refused: send the token in the Authorization header or as Sec-WebSocket-Protocol: bearer, <token>")
		}
		if h := r.Header.Get("Authorization"); h != "" {
			return s.checkBearer(r.Context(), h)
		}
		protos := websocket.Subprotocols(r)
		if len(protos) != 2 || !strings.EqualFold(protos[0], bearerSubprotocol) {
			return principal{}, apperr.New(apperr.Unauthenticated, "Missing Bearer token")
		}
		viaProtocol = true
		return s.matchToken(r.Context(), protos[1])
	})
	return p, viaProtocol, ok
}

// allowedOrigin accepts non-browser clients (no Origin), PUBLIC_URL's
// origin (the dashboard), ALLOWED_ORIGINS, and a loopback origin on a
// loopback Host (the dashboard opened on the machine itself). It never
// trusts Host alone: under DNS rebinding an attacker's page has Origin
// and Host both set to the attacker's name. The token is not a cookie,
// so this is defence in depth against a page that somehow holds one.
func (s *Server) allowedOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) && isLoopbackHost(u.Hostname()) {
		return true
	}
	if p := s.cfg.PublicURL; p != nil && strings.EqualFold(u.Scheme, p.Scheme) && strings.EqualFold(u.Host, p.Host) {
		return true
	}
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// isLoopbackHost reports a host name no remote page can be served from:
// localhost or a loopback address literal.
func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
