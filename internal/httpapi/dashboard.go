package httpapi

import (
	"io/fs"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/voiceagent/voiceagent/internal/httpapi/dashboard"
)

// dashboardCSP allows only the page's own script, stylesheet and
// connections (fetch to /api, the /logs WebSocket): no inline script or
// style, no framing, no forms posted anywhere.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// dashboardAssets are the files served under /dashboard/ and their types.
var dashboardAssets = map[string]string{
	"app.js":      "text/javascript; charset=utf-8",
	"charts.js":   "text/javascript; charset=utf-8",
	"style.css":   "text/css; charset=utf-8",
	"favicon.svg": "image/svg+xml",
}

// handleDashboard is GET /dashboard: the static operator page. It is
// public; it holds no data and asks for the token, which then
// authenticates every request it makes.
func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	s.serveDashboardFile(w, r, "index.html", "text/html; charset=utf-8")
}

// handleDashboardAsset is GET /dashboard/{file}: the page's script and
// stylesheet.
func (s *Server) handleDashboardAsset(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "file")
	ctype, ok := dashboardAssets[name]
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody{Error: errorDetail{Code: "not_found", Message: "no such route"}})
		return
	}
	s.serveDashboardFile(w, r, name, ctype)
}

func (s *Server) serveDashboardFile(w http.ResponseWriter, r *http.Request, name, ctype string) {
	b, err := fs.ReadFile(dashboard.Files, name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", dashboardCSP)
	h.Set("Content-Type", ctype)
	w.WriteHeader(http.StatusOK)
	w.Write(b) //nolint:errcheck // the client went away
}
