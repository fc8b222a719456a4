package httpapi

import (
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// callerList is the answer of GET /api/callers/{list}. Numbers are shown
// in full: this is the list an operator manages, not call history.
type callerList struct {
	List    string            `json:"list"`
	Numbers []voice.ListEntry `json:"numbers"`
}

// handleCallersList is GET /api/callers/{list} (blocked or allowed).
func (s *Server) handleCallersList(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		s.writeError(w, r, apperr.New(apperr.Invalid, "this route takes no query parameters"))
		return
	}
	list := chi.URLParam(r, "list")
	entries, err := s.Voice.Callers(r.Context(), list)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, callerList{List: list, Numbers: entries})
}

// handleCallersPut is PUT /api/callers/{list}/{number}: adds the number
// (strict E.164; "+" may be sent as %2B). 201 with the new entry when
// added; 200 with the stored entry (its own source and createdAt) when it
// was already listed. The next call sees it.
func (s *Server) handleCallersPut(w http.ResponseWriter, r *http.Request) {
	number, err := callerPathNumber(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list := chi.URLParam(r, "list")
	e, created, err := s.Voice.AddCaller(r.Context(), actor(r), list, number)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if created {
		writeJSON(w, http.StatusCreated, e)
		return
	}
	// Already listed: AddCaller built an entry it did not store; answer
	// with the one that is (an env entry stays "env", with its own time).
	entries, err := s.Voice.Callers(r.Context(), list)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, stored := range entries {
		if stored.Number == e.Number {
			writeJSON(w, http.StatusOK, stored)
			return
		}
	}
	// Removed between the insert and the read: report it as listed, as
	// the insert saw it.
	writeJSON(w, http.StatusOK, e)
}

// handleCallersDelete is DELETE /api/callers/{list}/{number}: 204, or 404
// when the number was not listed.
func (s *Server) handleCallersDelete(w http.ResponseWriter, r *http.Request) {
	number, err := callerPathNumber(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Voice.RemoveCaller(r.Context(), actor(r), chi.URLParam(r, "list"), number); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// callerPathNumber decodes the {number} path segment.
func callerPathNumber(r *http.Request) (string, error) {
	raw := chi.URLParam(r, "number")
	n, err := url.PathUnescape(raw)
	if err != nil || len(n) > 32 {
		return "", apperr.New(apperr.Invalid, "number must be an E.164 phone number such as +15555550100")
	}
	return n, nil
}
