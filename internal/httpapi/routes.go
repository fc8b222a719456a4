package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// routes is the whole HTTP surface. Every route and its middleware chain
// is listed here.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(requestID, realIP(s.cfg.TrustedProxies), s.accessLog, s.trackLoad, s.recoverer, securityHeaders, middleware.CleanPath)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Error: errorDetail{Code: "not_found", Message: "no such route"}})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: errorDetail{Code: "method_not_allowed", Message: "method not allowed"}})
	})

	// Probes: public, never refused while draining (that is what /ready
	// reports).
	r.Get("/health", s.handleHealth)
	r.Get("/ready", s.handleReady)

	// Twilio webhooks: X-Twilio-Signature checked over PUBLIC_URL + the raw
	// request URI and body; answered with TwiML, also while draining (new
	// calls then get busy). Other Twilio callbacks (/conference/events)
	// belong in this group.
	r.Group(func(r chi.Router) {
		r.Use(s.track, s.twilioAuth)
		r.Post("/voice/incoming", s.handleVoiceIncoming)
		r.Post("/voice/accept", s.handleVoiceAccept)
		r.Post("/voice/status", s.handleVoiceStatus)
		r.HandleFunc("/twiml", s.handleTwiML)
		r.Post("/conference/events", s.handleConferenceEvents)
	})

	// Twilio Media Streams WebSocket (both seeds' paths): one-time token
	// plus upgrade signature, checked in the handler; served while
	// draining, since the call was already answered.
	r.Get("/media-stream/{token}", s.handleMediaStream)
	r.Get("/call/{token}", s.handleMediaStream)

	// Live view: the /logs WebSocket checks the bearer token itself
	// (Authorization header, or the "bearer, <token>" subprotocol for
	// browsers; never a query string). The dashboard is static files that
	// ask for the token and use /logs and /api/calls.
	r.Get("/logs", s.handleLogs)
	r.Get("/dashboard", s.handleDashboard)
	r.Get("/dashboard/{file}", s.handleDashboardAsset)

	// Prometheus metrics: bearer token here, unless METRICS_ADDR serves
	// them on an internal listener instead.
	if s.cfg.MetricsAddr == "" {
		r.With(s.bearerAuth).Method(http.MethodGet, "/metrics", MetricsHandler(s.Metrics))
	}

	// The API contract: public, so tools can fetch it before holding a token.
	r.With(s.apiCORS()).Get("/api/openapi.yaml", s.handleOpenAPI)

	// Operator API: bearer token on every route. CORS answers preflights
	// before auth (browsers send them without credentials); the per-IP rate
	// limit runs before auth so guessing tokens is throttled too.
	r.Route("/api", func(r chi.Router) {
		r.Use(s.track, s.refuseWhileDraining, s.apiCORS(), s.apiRateLimit(), maxBody(s.cfg.MaxBodyBytes), s.bearerAuth)
		r.Get("/whoami", s.handleWhoami)
		r.Get("/contacts", s.handleContactsList)
		r.Put("/contacts", s.handleContactsReplace)
		r.Post("/contacts", s.handleContactCreate)
		r.Get("/contacts/{id}", s.handleContactGet)
		r.Put("/contacts/{id}", s.handleContactUpdate)
		r.Delete("/contacts/{id}", s.handleContactDelete)
		r.Post("/conference/add", s.handleConferenceAdd)
		r.Post("/conference/forward", s.handleConferenceForward)
		r.Post("/conference/end", s.handleConferenceEnd)
		r.Get("/conference/{name}", s.handleConferenceGet)
		r.Get("/data/{phoneNumber}", s.handleDataExport)
		r.Delete("/data/{phoneNumber}", s.handleDataErase)
		r.Get("/audit", s.handleAuditList)
		r.Get("/calls", s.handleCallsList)
		r.Get("/callers/{list:blocked|allowed}", s.handleCallersList)
		r.Put("/callers/{list:blocked|allowed}/{number}", s.handleCallersPut)
		r.Delete("/callers/{list:blocked|allowed}/{number}", s.handleCallersDelete)
	})
	return r
}

// handleWhoami is GET /api/whoami: which configured token authenticated
// the request ("primary" or "next"), so operators can check a rotation.
func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"token": TokenName(r.Context())})
}
