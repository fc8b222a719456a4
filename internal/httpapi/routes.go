package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/voiceagent/voiceagent/internal/apitoken"
)

// routes is the whole HTTP surface. Every route and its middleware chain
// is listed here.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(requestID, realIP(s.cfg.TrustedProxies, s.xffWarn.warn), s.accessLog, s.trackLoad, s.recoverer, securityHeaders, middleware.CleanPath)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Error: errorDetail{Code: "not_found", Message: "no such route"}})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: errorDetail{Code: "method_not_allowed", Message: "method not allowed"}})
	})

	// Probes: public, never refused while draining (that is what /ready
	// reports). /ready says only ok or not; its details need a token with
	// metrics:read (checked in the handler, so probes need no token).
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
	// ask for the token and use /logs and /api/calls. /logs needs
	// calls:read (checked in the handler, after the bearer check).
	r.Get("/logs", s.handleLogs)
	r.Get("/dashboard", s.handleDashboard)
	r.Get("/dashboard/{file}", s.handleDashboardAsset)

	// Prometheus metrics: bearer token here, unless METRICS_ADDR serves
	// them on an internal listener instead.
	if s.cfg.MetricsAddr == "" {
		r.With(s.bearerOn("metrics"), s.need(apitoken.MetricsRead)).Method(http.MethodGet, "/metrics", MetricsHandler(s.Metrics))
	}

	// The API contract: public, so tools can fetch it before holding a token.
	r.With(s.apiCORS()).Get("/api/openapi.yaml", s.handleOpenAPI)

	// Operator API: bearer token on every route. CORS answers preflights
	// before auth (browsers send them without credentials); the per-IP rate
	// limit runs before auth so guessing tokens is throttled too. Each
	// route names the scope a token needs (admin holds them all; whoami
	// takes any token); api/openapi.yaml names the same scope per
	// operation and TestScopesMatchOpenAPI holds the two together.
	r.Route("/api", func(r chi.Router) {
		r.Use(s.track, s.refuseWhileDraining, s.apiCORS(), s.apiRateLimit(), maxBody(s.cfg.MaxBodyBytes), s.bearerAuth)
		r.Get("/whoami", s.handleWhoami)
		r.With(s.need(apitoken.ContactsRead)).Get("/contacts", s.handleContactsList)
		r.With(s.need(apitoken.ContactsWrite)).Put("/contacts", s.handleContactsReplace)
		r.With(s.need(apitoken.ContactsWrite)).Post("/contacts", s.handleContactCreate)
		r.With(s.need(apitoken.ContactsRead)).Get("/contacts/{id}", s.handleContactGet)
		r.With(s.need(apitoken.ContactsWrite)).Put("/contacts/{id}", s.handleContactUpdate)
		r.With(s.need(apitoken.ContactsWrite)).Delete("/contacts/{id}", s.handleContactDelete)
		r.With(s.need(apitoken.CallsWrite)).Post("/conference/add", s.handleConferenceAdd)
		r.With(s.need(apitoken.CallsWrite)).Post("/conference/forward", s.handleConferenceForward)
		r.With(s.need(apitoken.CallsWrite)).Post("/conference/end", s.handleConferenceEnd)
		r.With(s.need(apitoken.CallsRead)).Get("/conference/{name}", s.handleConferenceGet)
		r.With(s.need(apitoken.Privacy)).Get("/data/{phoneNumber}", s.handleDataExport)
		r.With(s.need(apitoken.Privacy)).Delete("/data/{phoneNumber}", s.handleDataErase)
		r.With(s.need(apitoken.AuditRead)).Get("/audit", s.handleAuditList)
		r.With(s.need(apitoken.CallsRead)).Get("/calls", s.handleCallsList)
		r.With(s.need(apitoken.CallsRead)).Get("/calls/{callSid}", s.handleCallDetail)
		r.With(s.need(apitoken.CallersRead)).Get("/callers/{list:blocked|allowed}", s.handleCallersList)
		r.With(s.need(apitoken.CallersWrite)).Put("/callers/{list:blocked|allowed}/{number}", s.handleCallersPut)
		r.With(s.need(apitoken.CallersWrite)).Delete("/callers/{list:blocked|allowed}/{number}", s.handleCallersDelete)
		r.With(s.need(apitoken.AgentsRead)).Get("/agents", s.handleAgentsList)
		r.With(s.need(apitoken.AgentsWrite)).Post("/agents", s.handleAgentCreate)
		r.With(s.need(apitoken.AgentsRead)).Get("/agents/{id}", s.handleAgentGet)
		r.With(s.need(apitoken.AgentsWrite)).Put("/agents/{id}", s.handleAgentUpdate)
		r.With(s.need(apitoken.AgentsWrite)).Delete("/agents/{id}", s.handleAgentDelete)
		r.With(s.need(apitoken.AgentsRead)).Get("/numbers", s.handleNumbersList)
		r.With(s.need(apitoken.AgentsWrite)).Put("/numbers/{phoneNumber}", s.handleNumberPut)
		r.With(s.need(apitoken.AgentsWrite)).Delete("/numbers/{phoneNumber}", s.handleNumberDelete)
		r.With(s.need(apitoken.AgentsRead)).Get("/tools", s.handleToolsList)
		r.With(s.need(apitoken.AgentsWrite)).Post("/tools", s.handleToolCreate)
		r.With(s.need(apitoken.AgentsRead)).Get("/tools/{name}", s.handleToolGet)
		r.With(s.need(apitoken.AgentsWrite)).Put("/tools/{name}", s.handleToolUpdate)
		r.With(s.need(apitoken.AgentsWrite)).Delete("/tools/{name}", s.handleToolDelete)
		r.With(s.need(apitoken.AgentsWrite)).Post("/tools/{name}/rotate-secret", s.handleToolRotate)
		r.With(s.need(apitoken.WebhooksRead)).Get("/webhooks", s.handleWebhooksList)
		r.With(s.need(apitoken.WebhooksWrite)).Post("/webhooks", s.handleWebhookCreate)
		r.With(s.need(apitoken.WebhooksRead)).Get("/webhooks/{id}", s.handleWebhookGet)
		r.With(s.need(apitoken.WebhooksWrite)).Delete("/webhooks/{id}", s.handleWebhookDelete)
		r.With(s.need(apitoken.WebhooksRead)).Get("/webhooks/{id}/deliveries", s.handleWebhookDeliveries)
		r.With(s.need(apitoken.WebhooksWrite)).Post("/webhooks/{id}/test", s.handleWebhookTest)
		r.With(s.need(apitoken.Admin)).Get("/tokens", s.handleTokensList)
		r.With(s.need(apitoken.Admin)).Post("/tokens", s.handleTokenCreate)
		r.With(s.need(apitoken.Admin)).Delete("/tokens/{name}", s.handleTokenRevoke)
	})
	return r
}

// handleWhoami is GET /api/whoami: which token authenticated the request
// ("primary" or "next" for INTERNAL_API_BEARER, so operators can check a
// rotation, or a scoped token's name) and its scopes. Any token may ask.
func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"token": TokenName(r.Context()), "scopes": Scopes(r.Context())})
}
