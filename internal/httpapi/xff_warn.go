package httpapi

import (
	"log/slog"
	"sync"
	"time"

	"github.com/voiceagent/voiceagent/internal/redact"
)

// X-Forwarded-For from a peer that is not in TRUSTED_PROXIES is the sign
// of a proxy left out of the setting (every client then looks like the
// proxy and shares one lockout and rate-limit bucket) or of a client
// trying to pick its own address. peerWarner logs it once per peer per
// xffWarnEvery, never once per request.
const (
	xffWarnEvery = time.Hour
	xffMaxPeers  = 1024 // peers remembered; beyond, the oldest are forgotten
)

type peerWarner struct {
	log *slog.Logger
	now func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time // peer -> last warning
}

func newPeerWarner(log *slog.Logger) *peerWarner {
	return &peerWarner{log: log, now: time.Now, seen: map[string]time.Time{}}
}

// warn logs the warning for peer unless it was logged within the last
// xffWarnEvery; it reports whether it logged.
func (p *peerWarner) warn(peer string) bool {
	now := p.now()
	p.mu.Lock()
	if last, ok := p.seen[peer]; ok && now.Sub(last) < xffWarnEvery {
		p.mu.Unlock()
		return false
	}
	if len(p.seen) >= xffMaxPeers {
		for k, t := range p.seen {
			if now.Sub(t) >= xffWarnEvery {
				delete(p.seen, k)
			}
		}
		if len(p.seen) >= xffMaxPeers {
			p.mu.Unlock()
			return false // a flood of peers: what was logged already says it
		}
	}
	p.seen[peer] = now
	p.mu.Unlock()
	p.log.Warn("X-Forwarded-For from a peer that is not a trusted proxy; the header is ignored (set TRUSTED_PROXIES if this peer is your proxy)",
		"remote_ip", redact.IP(peer), "event", "untrusted_forwarded_for", "repeat_after", xffWarnEvery.String())
	return true
}
