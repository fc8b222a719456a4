package httpapi

import (
	"net/http"

	"github.com/voiceagent/voiceagent/api"
)

// handleOpenAPI is GET /api/openapi.yaml: the REST contract (public).
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.Write(api.OpenAPI) //nolint:errcheck // the client went away
}

// Router returns the route tree (a chi.Router), for tests that walk every
// route, such as the check that api/openapi.yaml describes them all.
func (s *Server) Router() http.Handler { return s.handler }
