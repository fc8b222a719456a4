package httpapi

import (
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/voiceagent/voiceagent/internal/privacy"
)

// erasureJSON answers DELETE /api/data/{phoneNumber}.
type erasureJSON struct {
	Erased bool           `json:"erased"`
	Counts privacy.Counts `json:"counts"`
}

// exportJSON answers GET /api/data/{phoneNumber}.
type exportJSON struct {
	PhoneNumber            string           `json:"phoneNumber"`
	Contacts               []map[string]any `json:"contacts"`
	Calls                  []map[string]any `json:"calls"`
	Transcripts            []map[string]any `json:"transcripts"`
	CallDetails            []map[string]any `json:"callDetails"`
	Conferences            []map[string]any `json:"conferences"`
	ConferenceParticipants []map[string]any `json:"conferenceParticipants"`
	ConferenceEvents       []map[string]any `json:"conferenceEvents"`
	CallerLists            []map[string]any `json:"callerLists"`
	AuditEvents            []map[string]any `json:"auditEvents"`
	StreamTokens           []map[string]any `json:"streamTokens"`
	WebhookReceipts        []map[string]any `json:"webhookReceipts"`
	EventPayloads          []map[string]any `json:"eventPayloads"`
	WebhookOutbox          []map[string]any `json:"webhookOutbox"`
	WebhookDeliveries      []map[string]any `json:"webhookDeliveries"`
	Other                  []map[string]any `json:"other"`
}

// pathNumber reads {phoneNumber}, which clients may percent-encode
// (%2B for the plus sign).
func pathNumber(r *http.Request) string {
	raw := chi.URLParam(r, "phoneNumber")
	if n, err := url.PathUnescape(raw); err == nil {
		return n
	}
	return raw
}

// handleDataErase is DELETE /api/data/{phoneNumber}: erase the number
// everywhere in one transaction; answers the counts (rows) per kind. The
// service's own numbers are refused with 409.
func (s *Server) handleDataErase(w http.ResponseWriter, r *http.Request) {
	counts, err := s.Privacy.Erase(r.Context(), actor(r), pathNumber(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, erasureJSON{Erased: true, Counts: counts})
}

// handleDataExport is GET /api/data/{phoneNumber}: everything stored about
// the number, which is exactly what DELETE on the same path removes or
// rewrites.
func (s *Server) handleDataExport(w http.ResponseWriter, r *http.Request) {
	ex, err := s.Privacy.Export(r.Context(), actor(r), pathNumber(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, exportJSON{PhoneNumber: ex.PhoneNumber, Contacts: orEmpty(ex.Contacts), Calls: orEmpty(ex.Calls), Transcripts: orEmpty(ex.Transcripts),
		CallDetails: orEmpty(ex.CallDetails), Conferences: orEmpty(ex.Conferences), ConferenceParticipants: orEmpty(ex.ConferenceParticipants), ConferenceEvents: orEmpty(ex.ConferenceEvents),
		CallerLists: orEmpty(ex.CallerLists), AuditEvents: orEmpty(ex.AuditEvents), StreamTokens: orEmpty(ex.StreamTokens), WebhookReceipts: orEmpty(ex.WebhookReceipts),
		EventPayloads: orEmpty(ex.EventPayloads), WebhookOutbox: orEmpty(ex.WebhookOutbox), WebhookDeliveries: orEmpty(ex.WebhookDeliveries),
		Other: orEmpty(ex.Other)})
}

// orEmpty is rows, or an empty list instead of nil (JSON [] not null).
func orEmpty(rows []map[string]any) []map[string]any {
	if rows == nil {
		return []map[string]any{}
	}
	return rows
}
