package httpapi

import (
	"context"
	"net/http"
	"time"
)

// handleHealth is GET /health: liveness only, no I/O.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReady is GET /ready: 503 with a reason while draining or when the
// database does not answer; 200 otherwise, with "degraded" listing any
// resource threshold exceeded (heap, goroutines, connections, error_rate).
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if s.Draining() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		s.logger(r).Warn("readiness: database ping failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database unavailable"})
		return
	}
	// Resource pressure is reported, not failed on: taking a busy
	// instance out of rotation would only move its load elsewhere.
	body := map[string]any{"status": "ok"}
	if reasons := s.degradedReasons(); len(reasons) > 0 {
		body["degraded"] = reasons
	}
	if w := s.cfg.DevelopmentDefaultsWarning(); w != "" {
		body["warnings"] = []string{"APP_ENV " + w}
	}
	writeJSON(w, http.StatusOK, body)
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
