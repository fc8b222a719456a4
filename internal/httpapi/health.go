package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/voiceagent/voiceagent/internal/apitoken"
)

// handleHealth is GET /health: liveness only, no I/O.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReady is GET /ready: 503 while draining or when the database does
// not answer, 200 otherwise. Without a token the body says only
// {"status":"ok"} or {"status":"unavailable"}; with a bearer token that
// holds metrics:read it adds the reason, "degraded" (any resource
// threshold exceeded: heap, goroutines, connections, error_rate) and the
// call "limits" (what `voiceagent simulate --url` needs to know), which
// tell an attacker how close the server is to its limits.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	status, body := s.readiness(r)
	if r.Header.Get("Authorization") == "" {
		writeJSON(w, status, map[string]any{"status": body["status"]})
		return
	}
	p, ok := s.authorize(w, r, "ready", func() (principal, error) { return s.checkBearer(r.Context(), r.Header.Get("Authorization")) })
	if !ok || !s.allowed(w, r, "ready", p, apitoken.MetricsRead) {
		return
	}
	writeJSON(w, status, body)
}

// readiness is /ready's status and detailed body.
func (s *Server) readiness(r *http.Request) (int, map[string]any) {
	if s.Draining() {
		return http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": "draining"}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		s.logger(r).Warn("readiness: database ping failed", "err", err)
		return http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": "database unavailable"}
	}
	// Resource pressure is reported, not failed on: taking a busy
	// instance out of rotation would only move its load elsewhere.
	body := map[string]any{"status": "ok", "limits": map[string]int{
		"max_concurrent_calls": s.cfg.MaxConcurrentCalls,
		"calls_per_minute":     s.cfg.CallsPerMinute,
	}}
	if reasons := s.degradedReasons(); len(reasons) > 0 {
		body["degraded"] = reasons
	}
	if w := s.cfg.DevelopmentDefaultsWarning(); w != "" {
		body["warnings"] = []string{"APP_ENV " + w}
	}
	return http.StatusOK, body
}

// refuseWhileDraining answers 503 to new work once shutdown has begun.
func (s *Server) refuseWhileDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Draining() {
			w.Header().Set("Connection", "close")
			w.Header().Set("Retry-After", "5")
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: errorDetail{Code: "unavailable", Message: "server is shutting down"}})
			return
		}
		next.ServeHTTP(w, r)
	})
}
