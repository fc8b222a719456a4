package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/voiceagent/voiceagent/internal/webhooks"
)

// webhookJSON is a subscription on the wire. Secret is set only in the
// answer of POST /api/webhooks.
type webhookJSON struct {
	ID         string     `json:"id"`
	URL        string     `json:"url"`
	Events     []string   `json:"events"`
	CreatedAt  time.Time  `json:"createdAt"`
	DisabledAt *time.Time `json:"disabledAt,omitempty"`
	Secret     string     `json:"secret,omitempty"`
}

func webhookOut(s webhooks.Subscription) webhookJSON {
	return webhookJSON{ID: s.ID, URL: s.URL, Events: s.Events, CreatedAt: s.CreatedAt, DisabledAt: s.DisabledAt}
}

// webhookCreateRequest is the body of POST /api/webhooks.
type webhookCreateRequest struct {
	URL    string   `json:"url" validate:"required,max=2048"`
	Events []string `json:"events" validate:"required,min=1,max=5"`
}

// deliveryJSON is one row of the delivery log.
type deliveryJSON struct {
	ID         string    `json:"id"`
	EventID    string    `json:"eventId"`
	Type       string    `json:"type"`
	CallSID    string    `json:"callSid,omitempty"`
	State      string    `json:"state"`
	Attempts   int       `json:"attempts"`
	LastStatus int       `json:"lastStatus,omitempty"`
	LastError  string    `json:"lastError,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// handleWebhooksList is GET /api/webhooks: every subscription, oldest
// first (never a secret).
func (s *Server) handleWebhooksList(w http.ResponseWriter, r *http.Request) {
	subs, err := s.Webhooks.List(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]webhookJSON, len(subs))
	for i, sub := range subs {
		out[i] = webhookOut(sub)
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
}

// handleWebhookCreate is POST /api/webhooks (201): the answer holds the
// signing secret, this once.
func (s *Server) handleWebhookCreate(w http.ResponseWriter, r *http.Request) {
	var in webhookCreateRequest
	if !s.decodeValid(w, r, &in) {
		return
	}
	sub, secret, err := s.Webhooks.Create(r.Context(), actor(r), in.URL, in.Events)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := webhookOut(sub)
	out.Secret = secret
	w.Header().Set("Location", "/api/webhooks/"+sub.ID)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

// handleWebhookGet is GET /api/webhooks/{id}.
func (s *Server) handleWebhookGet(w http.ResponseWriter, r *http.Request) {
	sub, err := s.Webhooks.Get(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, webhookOut(sub))
}

// handleWebhookDelete is DELETE /api/webhooks/{id} (204): the
// subscription and its pending deliveries go.
func (s *Server) handleWebhookDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.Webhooks.Delete(r.Context(), actor(r), chi.URLParam(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleWebhookDeliveries is GET /api/webhooks/{id}/deliveries?limit=:
// the delivery log (7 days), most recently attempted first.
func (s *Server) handleWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r)
	if err == nil {
		err = onlyParams(q, "limit")
	}
	limit := 0
	if err == nil {
		limit, err = limitParam(q, 50, 200)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ds, err := s.Webhooks.Deliveries(r.Context(), chi.URLParam(r, "id"), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]deliveryJSON, len(ds))
	for i, d := range ds {
		out[i] = deliveryJSON{ID: d.ID, EventID: d.EventID, Type: d.Type, CallSID: d.CallSID, State: d.State, Attempts: d.Attempts,
			LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out})
}

// handleWebhookTest is POST /api/webhooks/{id}/test (202): a
// webhook.test event is queued for this subscription and delivered like
// any other (signed, retried, logged).
func (s *Server) handleWebhookTest(w http.ResponseWriter, r *http.Request) {
	dlv, err := s.Webhooks.SendTest(r.Context(), actor(r), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"deliveryId": dlv})
}
