package httpapi

import (
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/cors"
	"github.com/go-chi/httprate"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

// apiCORS answers CORS for /api: only ALLOWED_ORIGINS (none by default),
// credentials allowed, preflight answered here, before bearer auth, since
// browsers send preflights without credentials.
func (s *Server) apiCORS() func(http.Handler) http.Handler {
	origins := s.cfg.AllowedOrigins
	anyOrigin := slices.Contains(origins, "*") // refused in production by config
	return cors.Handler(cors.Options{
		// A function, because the library treats an empty list as "allow
		// every origin".
		AllowOriginFunc: func(_ *http.Request, origin string) bool {
			return anyOrigin || slices.Contains(origins, origin)
		},
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "X-Request-ID"},
		ExposedHeaders:   []string{"X-Request-ID", "Retry-After"},
		AllowCredentials: true,
		MaxAge:           600,
	})
}

// apiRateLimit allows API_REQUESTS_PER_MINUTE requests per client IP (the
// address realIP settled on, so a trusted proxy is not one big client;
// IPv6 clients per /64, see ipBucket).
func (s *Server) apiRateLimit() func(http.Handler) http.Handler {
	return httprate.LimitBy(s.cfg.APIRatePerMin, time.Minute,
		func(r *http.Request) (string, error) { return ipBucket(ClientIP(r.Context())), nil },
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, r, apperr.New(apperr.RateLimited, "too many requests; slow down"))
		}),
	)
}
