package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/voiceagent/voiceagent/internal/apitoken"
)

// tokenDTO is a scoped token as the API shows it: never the secret or
// its hash, except Token once in the answer to its creation.
type tokenDTO struct {
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"createdAt"`
	CreatedBy  string     `json:"createdBy"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	Token      string     `json:"token,omitempty"`
}

func toTokenDTO(t apitoken.Token) tokenDTO {
	d := tokenDTO{Name: t.Name, CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, Scopes: make([]string, len(t.Scopes))}
	for i, sc := range t.Scopes {
		d.Scopes[i] = string(sc)
	}
	if !t.ExpiresAt.IsZero() {
		e := t.ExpiresAt
		d.ExpiresAt = &e
	}
	if !t.LastUsedAt.IsZero() {
		u := t.LastUsedAt
		d.LastUsedAt = &u
	}
	return d
}

// tokenCreateRequest is the body of POST /api/tokens.
type tokenCreateRequest struct {
	Name    string   `json:"name" validate:"required,max=63"`
	Scopes  []string `json:"scopes" validate:"required,min=1,max=20,dive,max=32"`
	Expires string   `json:"expires" validate:"max=16"`
}

// handleTokensList is GET /api/tokens (admin).
func (s *Server) handleTokensList(w http.ResponseWriter, r *http.Request) {
	list, err := s.Tokens.List(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]tokenDTO, len(list))
	for i, t := range list {
		out[i] = toTokenDTO(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

// handleTokenCreate is POST /api/tokens (admin): the answer holds the
// token, the only time it is ever shown.
func (s *Server) handleTokenCreate(w http.ResponseWriter, r *http.Request) {
	var in tokenCreateRequest
	if !s.decodeValid(w, r, &in) {
		return
	}
	scopes, err := apitoken.ParseScopes(in.Scopes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	expires, err := apitoken.ParseExpiry(in.Expires)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, secret, err := s.Tokens.Create(r.Context(), actor(r), in.Name, scopes, expires)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d := toTokenDTO(t)
	d.Token = secret
	writeJSON(w, http.StatusCreated, d)
}

// handleTokenRevoke is DELETE /api/tokens/{name} (admin).
func (s *Server) handleTokenRevoke(w http.ResponseWriter, r *http.Request) {
	if err := s.Tokens.Revoke(r.Context(), actor(r), chi.URLParam(r, "name")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
