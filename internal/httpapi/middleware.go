package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/redact"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyClientIP
)

// RequestID returns the request's ID, set by the requestID middleware.
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(keyRequestID).(string)
	return s
}

// ClientIP returns the client address: the TCP peer, or the address a
// trusted proxy reported.
func ClientIP(ctx context.Context) string {
	s, _ := ctx.Value(keyClientIP).(string)
	return s
}

// requestID gives each request an ID, echoed in X-Request-ID. An incoming
// ID is kept only when it is short and plain, so it cannot inject into logs.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !plainID(id) {
			var b [8]byte
			rand.Read(b[:]) //nolint:errcheck // never fails
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyRequestID, id)))
	})
}

// plainID accepts a client's X-Request-ID: up to 64 letters, digits, '-'
// and '_', and nothing the redaction would mask (a phone number such as
// 415-555-0177): the ID is logged as it is, on every line of the request.
func plainID(s string) bool {
	if s == "" || len(s) > 64 || redact.Text(s) != s {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// realIP records the client address. X-Forwarded-For is read only when the
// TCP peer is a trusted proxy, walking right to left past trusted hops;
// from any other peer it is ignored and reported to untrustedXFF (when
// not nil) with the peer's address.
func realIP(trusted []netip.Prefix, untrustedXFF func(peer string) bool) func(http.Handler) http.Handler {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ip := peerIP(r.RemoteAddr)
			xff := r.Header.Values("X-Forwarded-For")
			a, err := netip.ParseAddr(ip)
			switch {
			case err == nil && len(trusted) > 0 && isTrusted(a.Unmap()):
				ip = forwardedFor(xff, isTrusted, ip)
			case len(xff) > 0 && untrustedXFF != nil:
				untrustedXFF(ip)
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyClientIP, ip)))
		})
	}
}

func peerIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

func forwardedFor(values []string, trusted func(netip.Addr) bool, fallback string) string {
	var hops []string
	for _, v := range values {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return fallback
		}
		if !trusted(a.Unmap()) {
			return a.Unmap().String()
		}
		fallback = a.Unmap().String()
	}
	return fallback
}

// recoverer turns a panic into a generic 500. The stack goes to the log, and
// only in development.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			attrs := []any{"request_id", RequestID(r.Context()), "path", redact.Text(r.URL.Path), "panic", redact.Text(toString(v))}
			if !s.cfg.Production {
				attrs = append(attrs, "stack", string(debug.Stack()))
			}
			s.log.Error("panic serving request", attrs...)
			s.writeError(w, r, apperr.New(apperr.Internal, "internal error"))
		}()
		next.ServeHTTP(w, r)
	})
}

func toString(v any) string {
	switch x := v.(type) {
	case error:
		return x.Error()
	case string:
		return x
	default:
		return "non-error panic value"
	}
}

// accessLog writes one line per request, except refused requests whose
// aggregated audit row was not written (refusals.go). The path and client IP pass
// through the masking helper: paths can carry phone numbers
// (/api/data/{phoneNumber}, /api/callers/blocked/{number}).
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		r, q := withAccessQuiet(r)
		next.ServeHTTP(ww, r)
		if q.quiet { // a refusal already counted in an aggregated row
			return
		}
		s.log.Info("http",
			"request_id", RequestID(r.Context()),
			"method", r.Method,
			"path", redact.Text(mediaLogPath(r.URL.Path)),
			"status", ww.Status(),
			"bytes", ww.BytesWritten(),
			"duration_ms", time.Since(start).Milliseconds(),
			"remote_ip", redact.IP(ClientIP(r.Context())),
		)
	})
}

// securityHeaders sets the headers every answer carries. The dashboard
// route sets its own Content-Security-Policy.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cache-Control", "no-store")
		if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// maxBody limits every request body; handlers see *http.MaxBytesError when
// a client sends more.
func (s *Server) maxBody(limit int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				w.Header().Set("Connection", "close")
				s.writeError(w, r, apperr.New(apperr.TooLarge, "request body too large"))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			next.ServeHTTP(w, r)
		})
	}
}
