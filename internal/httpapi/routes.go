package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/apperr"
)

// routes is the whole HTTP surface. Every route and its middleware chain
// is listed here.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(requestID, realIP(s.cfg.TrustedProxies, s.xffWarn.warn), s.accessLog, s.trackLoad, s.recoverer, securityHeaders, middleware.CleanPath)
	r.NotFound(s.noRoute)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, apperr.New(apperr.MethodNotAllowed, "method not allowed"))
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
		voiceOn := s.requiresTwiML(s.Voice != nil, "inbound calls are not configured")
		r.With(voiceOn).Post("/voice/incoming", s.handleVoiceIncoming)
		r.With(voiceOn).Post("/voice/accept", s.handleVoiceAccept)
		r.With(voiceOn).Post("/voice/status", s.handleVoiceStatus)
		r.With(voiceOn).Post("/voice/outbound", s.handleVoiceOutbound)
		r.With(voiceOn).HandleFunc("/twiml", s.handleTwiML)
		r.With(s.requiresTwiML(s.Conferences != nil, "conferences are not configured")).Post("/conference/events", s.handleConferenceEvents)
	})

	// Twilio Media Streams WebSocket (both seeds' paths): one-time token
	// plus upgrade signature, checked in the handler; served while
	// draining, since the call was already answered.
	mediaOn := s.requires(s.Relay != nil && s.StreamTokens != nil && s.Relay.Enabled(), "the voice agent is not configured")
	r.With(mediaOn).Get("/media-stream/{token}", s.handleMediaStream)
	r.With(mediaOn).Get("/call/{token}", s.handleMediaStream)

	// Live view: the /logs WebSocket checks the bearer token itself
	// (Authorization header, or the "bearer, <token>" subprotocol for
	// browsers; never a query string). The dashboard is static files that
	// ask for the token and use /logs and /api/calls. /logs needs
	// calls:read (checked in the handler, after the bearer check).
	r.With(s.requires(s.Events != nil, "live events are not configured")).Get("/logs", s.handleLogs)
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
		r.Use(s.track, s.refuseWhileDraining, s.apiCORS(), s.apiRateLimit(), s.maxBody(s.cfg.MaxBodyBytes), s.bearerAuth)
		// A route whose service is not wired answers 503 (guard.go); the
		// guard runs after the scope check.
		contactsOn := s.requires(s.Contacts != nil, "contacts is not configured")
		conferencesOn := s.requires(s.Conferences != nil, "conferences is not configured")
		exportOn := s.requires(s.Privacy != nil, "data export is not configured")
		eraseOn := s.requires(s.Privacy != nil, "data erasure is not configured")
		auditOn := s.requires(s.AuditLog != nil, "audit listing is not configured")
		callsOn := s.requires(s.CallList != nil, "call listing is not configured")
		detailOn := s.requires(s.CallList != nil, "call details are not configured")
		outboundOn := s.requires(s.Outbound != nil, "outbound calls are not configured")
		callersOn := s.requires(s.Voice != nil, "caller lists are not configured")
		agentsOn := s.requires(s.Agents != nil, "agents is not configured")
		tokensOn := s.requires(s.Tokens != nil, "API tokens are not configured")
		webhooksOn := s.requires(s.Webhooks != nil, "webhooks are not configured")
		r.Get("/whoami", s.handleWhoami)
		r.With(s.need(apitoken.ContactsRead), contactsOn).Get("/contacts", s.handleContactsList)
		r.With(s.need(apitoken.ContactsWrite), contactsOn).Put("/contacts", s.handleContactsReplace)
		r.With(s.need(apitoken.ContactsWrite), contactsOn).Post("/contacts", s.handleContactCreate)
		r.With(s.need(apitoken.ContactsRead), contactsOn).Get("/contacts/{id}", s.handleContactGet)
		r.With(s.need(apitoken.ContactsWrite), contactsOn).Put("/contacts/{id}", s.handleContactUpdate)
		r.With(s.need(apitoken.ContactsWrite), contactsOn).Delete("/contacts/{id}", s.handleContactDelete)
		r.With(s.need(apitoken.CallsWrite), conferencesOn).Post("/conference/add", s.handleConferenceAdd)
		r.With(s.need(apitoken.CallsWrite), conferencesOn).Post("/conference/forward", s.handleConferenceForward)
		r.With(s.need(apitoken.CallsWrite), conferencesOn).Post("/conference/end", s.handleConferenceEnd)
		r.With(s.need(apitoken.CallsRead), conferencesOn).Get("/conference/{name}", s.handleConferenceGet)
		r.With(s.need(apitoken.Privacy), exportOn).Get("/data/{phoneNumber}", s.handleDataExport)
		r.With(s.need(apitoken.Privacy), eraseOn).Delete("/data/{phoneNumber}", s.handleDataErase)
		r.With(s.need(apitoken.AuditRead), auditOn).Get("/audit", s.handleAuditList)
		r.With(s.need(apitoken.CallsRead), callsOn).Get("/calls", s.handleCallsList)
		r.With(s.need(apitoken.CallsRead), detailOn).Get("/calls/{callSid}", s.handleCallDetail)
		r.With(s.need(apitoken.CallsWrite), outboundOn).Post("/calls", s.handleCallCreate)
		r.With(s.need(apitoken.CallsWrite), s.requires(s.Outbound != nil, "call control is not configured")).Post("/calls/{callSid}/end", s.handleCallEnd)
		r.With(s.need(apitoken.CallersRead), callersOn).Get("/callers/{list:blocked|allowed}", s.handleCallersList)
		r.With(s.need(apitoken.CallersWrite), callersOn).Put("/callers/{list:blocked|allowed}/{number}", s.handleCallersPut)
		r.With(s.need(apitoken.CallersWrite), callersOn).Delete("/callers/{list:blocked|allowed}/{number}", s.handleCallersDelete)
		r.With(s.need(apitoken.AgentsRead), agentsOn).Get("/agents", s.handleAgentsList)
		r.With(s.need(apitoken.AgentsWrite), agentsOn).Post("/agents", s.handleAgentCreate)
		r.With(s.need(apitoken.AgentsRead), agentsOn).Get("/agents/{id}", s.handleAgentGet)
		r.With(s.need(apitoken.AgentsWrite), agentsOn).Put("/agents/{id}", s.handleAgentUpdate)
		r.With(s.need(apitoken.AgentsWrite), agentsOn).Delete("/agents/{id}", s.handleAgentDelete)
		r.With(s.need(apitoken.AgentsRead), agentsOn).Get("/numbers", s.handleNumbersList)
		r.With(s.need(apitoken.AgentsWrite), agentsOn).Put("/numbers/{phoneNumber}", s.handleNumberPut)
		r.With(s.need(apitoken.AgentsWrite), agentsOn).Delete("/numbers/{phoneNumber}", s.handleNumberDelete)
		r.With(s.need(apitoken.AgentsRead), agentsOn).Get("/tools", s.handleToolsList)
		r.With(s.need(apitoken.AgentsWrite), agentsOn).Post("/tools", s.handleToolCreate)
		r.With(s.need(apitoken.AgentsRead), agentsOn).Get("/tools/{name}", s.handleToolGet)
		r.With(s.need(apitoken.AgentsWrite), agentsOn).Put("/tools/{name}", s.handleToolUpdate)
		r.With(s.need(apitoken.AgentsWrite), agentsOn).Delete("/tools/{name}", s.handleToolDelete)
		r.With(s.need(apitoken.AgentsWrite), agentsOn).Post("/tools/{name}/rotate-secret", s.handleToolRotate)
		r.With(s.need(apitoken.WebhooksRead), webhooksOn).Get("/webhooks", s.handleWebhooksList)
		r.With(s.need(apitoken.WebhooksWrite), webhooksOn).Post("/webhooks", s.handleWebhookCreate)
		r.With(s.need(apitoken.WebhooksRead), webhooksOn).Get("/webhooks/{id}", s.handleWebhookGet)
		r.With(s.need(apitoken.WebhooksWrite), webhooksOn).Delete("/webhooks/{id}", s.handleWebhookDelete)
		r.With(s.need(apitoken.WebhooksRead), webhooksOn).Get("/webhooks/{id}/deliveries", s.handleWebhookDeliveries)
		r.With(s.need(apitoken.WebhooksWrite), webhooksOn).Post("/webhooks/{id}/test", s.handleWebhookTest)
		r.With(s.need(apitoken.Admin), tokensOn).Get("/tokens", s.handleTokensList)
		r.With(s.need(apitoken.Admin), tokensOn).Post("/tokens", s.handleTokenCreate)
		r.With(s.need(apitoken.Admin), tokensOn).Delete("/tokens/{name}", s.handleTokenRevoke)
	})
	return r
}

// handleWhoami is GET /api/whoami: which token authenticated the request
// ("primary" or "next" for INTERNAL_API_BEARER, so operators can check a
// rotation, or a scoped token's name) and its scopes. Any token may ask.
func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"token": p.name, "scopes": p.scopes})
}

// noRoute answers a path the router does not serve (also an unknown
// dashboard file).
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, apperr.New(apperr.NotFound, "no such route"))
}
