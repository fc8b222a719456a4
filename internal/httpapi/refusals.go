package httpapi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// Refusals cost nothing: a refused Twilio webhook or media-stream request is
// counted per client IP, IPv6 per /64 (failLimiter) and aggregated into at most one audit
// row and one log line per (IP, surface, reason) per minute
// (audit.Refusals); its access-log line is left out unless that row was
// written. A client that keeps failing is answered 429 before any body is
// read or signature computed.

// Refusal limits: more than refusalLimit refusals from one client IP within
// refusalWindow, and its webhook and media-stream requests are answered 429
// until the window ends. Twilio's own requests never fail, so they never
// count; a misconfigured auth token shows in the audit rows.
const (
	refusalLimit  = 20
	refusalWindow = time.Minute
	// maxLimitedIPs bounds the table; when it is full and nothing has
	// expired, new IPs are not limited (their refusals are still
	// aggregated, under the audit overflow key if need be).
	maxLimitedIPs = 100_000
)

// failLimiter counts failures per client IP in fixed windows.
type failLimiter struct {
	limit  int
	window time.Duration
	max    int
	now    func() time.Time

	mu    sync.Mutex
	ips   map[string]*failWindow
	swept time.Time
}

type failWindow struct {
	start time.Time
	fails int
}

func newFailLimiter(limit int, window time.Duration) *failLimiter {
	return &failLimiter{limit: limit, window: window, max: maxLimitedIPs, now: time.Now, ips: map[string]*failWindow{}}
}

// blocked reports whether ip has failed more than the limit in its
// current window.
func (l *failLimiter) blocked(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.ips[ip]
	return w != nil && w.fails > l.limit && l.now().Sub(w.start) < l.window
}

// fail counts one failure from ip.
func (l *failLimiter) fail(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.ips[ip]
	if w == nil {
		if len(l.ips) >= l.max || now.Sub(l.swept) >= l.window {
			l.sweepLocked(now)
		}
		if len(l.ips) >= l.max {
			return
		}
		w = &failWindow{start: now}
		l.ips[ip] = w
	}
	if now.Sub(w.start) >= l.window {
		w.start, w.fails = now, 0
	}
	w.fails++
}

func (l *failLimiter) sweepLocked(now time.Time) {
	l.swept = now
	for ip, w := range l.ips {
		if now.Sub(w.start) >= l.window {
			delete(l.ips, ip)
		}
	}
}

// accessQuiet is set by a refusal whose audit row was not written, so the
// access log leaves the request out too (log lines sampled like rows).
type accessQuiet struct{ quiet bool }

type accessQuietKey struct{}

// withAccessQuiet gives the request a flag the access log reads afterwards.
func withAccessQuiet(r *http.Request) (*http.Request, *accessQuiet) {
	q := &accessQuiet{}
	return r.WithContext(context.WithValue(r.Context(), accessQuietKey{}, q)), q
}

// quietAccess leaves this request out of the access log.
func quietAccess(ctx context.Context) {
	if q, _ := ctx.Value(accessQuietKey{}).(*accessQuiet); q != nil {
		q.quiet = true
	}
}

// accessQuieted reports whether quietAccess was called for this request.
func accessQuieted(ctx context.Context) bool {
	q, _ := ctx.Value(accessQuietKey{}).(*accessQuiet)
	return q != nil && q.quiet
}

// refusalLimited answers 429 when the client has failed too often; the
// refusal is aggregated like the others. It runs before any body read or
// signature check.
func (s *Server) refusalLimited(w http.ResponseWriter, r *http.Request, surface, actor, path string) bool {
	if !s.refusalLimit.blocked(bucketAddr(ClientIP(r.Context()))) {
		return false
	}
	s.Metrics.RefusalsLimited.WithLabelValues(surface).Inc()
	s.noteRefusal(r, surface, actor, path, "rate_limited")
	w.Header().Set("Retry-After", "60")
	return true
}

// noteRefusal counts a refusal against its client, aggregates its audit
// row and writes the WARN line only when the row was written. It reports
// whether it did.
func (s *Server) noteRefusal(r *http.Request, surface, actor, path, reason string) bool {
	// Counted and aggregated per client bucket (an IPv6 /64, like the
	// lockout), so moving through one's /64 escapes neither.
	ip := bucketAddr(ClientIP(r.Context()))
	if reason != "rate_limited" {
		s.refusalLimit.fail(ip)
	}
	written, count := s.refusals.Note(audit.Refusal{RemoteIP: ip, Surface: surface, Reason: reason, Actor: actor, Path: path})
	if !written {
		quietAccess(r.Context())
		return false
	}
	msg := "media stream refused"
	switch surface {
	case "twilio":
		msg = "Twilio webhook refused"
	case "logs", "ready", "metrics":
		msg = "bearer request refused"
	}
	s.log.Warn(msg, "surface", surface, "request_id", RequestID(r.Context()), "path", path,
		"reason", reason, "count", count, "remote_ip", redact.IP(ip))
	return true
}

// FlushRefusals writes the aggregated refusal counts still waiting for
// their window (shutdown, before the audit recorder closes).
func (s *Server) FlushRefusals() { s.refusals.FlushAll() }
