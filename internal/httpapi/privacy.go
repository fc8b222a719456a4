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
	Conferences            []map[string]any `json:"conferences"`
	ConferenceParticipants []map[string]any `json:"conferenceParticipants"`
	ConferenceEvents       []map[string]any `json:"conferenceEvents"`
	CallerLists            []map[string]any `json:"callerLists"`
	AuditEvents            []map[string]any `json:"auditEvents"`
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
	if s.Privacy == nil {
		s.notConfigured(w, r, "data erasure")
		return
	}
	counts, err := s.Privacy.Erase(r.Context(), actor(r), pathNumber(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, erasureJSON{Erased: true, Counts: counts})
}

// handleDataExport is GET /api/data/{phoneNumber}: everything stored about
// the number.
func (s *Server) handleDataExport(w http.ResponseWriter, r *http.Request) {
	if s.Privacy == nil {
		s.notConfigured(w, r, "data export")
		return
	}
	ex, err := s.Privacy.Export(r.Context(), actor(r), pathNumber(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, exportJSON{PhoneNumber: ex.PhoneNumber, Contacts: ex.Contacts, Calls: ex.Calls, Transcripts: ex.Transcripts,
		Conferences: ex.Conferences, ConferenceParticipants: ex.ConferenceParticipants, ConferenceEvents: ex.ConferenceEvents,
		CallerLists: ex.CallerLists, AuditEvents: ex.AuditEvents})
}
