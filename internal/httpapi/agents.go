package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/voiceagent/voiceagent/internal/agents"
	"github.com/voiceagent/voiceagent/internal/apperr"
)

// agentJSON is an agent on the wire. On the way in, id, createdAt and
// updatedAt are refused (the server assigns them); durations are Go
// duration strings ("30m").
type agentJSON struct {
	ID              string    `json:"id,omitempty"`
	Name            string    `json:"name"`
	Instructions    string    `json:"instructions"`
	Greeting        string    `json:"greeting"`
	Voice           string    `json:"voice"`
	Model           string    `json:"model"`
	Language        string    `json:"language"`
	Tools           []string  `json:"tools"`
	DialPolicy      string    `json:"dialPolicy"`
	MaxCallDuration string    `json:"maxCallDuration"`
	IdleTimeout     string    `json:"idleTimeout"`
	CreatedAt       time.Time `json:"createdAt,omitzero"`
	UpdatedAt       time.Time `json:"updatedAt,omitzero"`
}

func agentOut(a agents.Agent) agentJSON {
	out := agentJSON{ID: a.ID, Name: a.Name, Instructions: a.Instructions, Greeting: a.Greeting, Voice: a.Voice, Model: a.Model,
		Language: a.Language, Tools: a.Tools, DialPolicy: a.DialPolicy, MaxCallDuration: a.MaxCallDuration.String(),
		IdleTimeout: a.IdleTimeout.String(), CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	if out.Tools == nil {
		out.Tools = []string{}
	}
	return out
}

func (in agentJSON) toAgent() (agents.Agent, error) {
	if in.ID != "" || !in.CreatedAt.IsZero() || !in.UpdatedAt.IsZero() {
		return agents.Agent{}, apperr.New(apperr.Invalid, "id, createdAt and updatedAt are assigned by the server")
	}
	a := agents.Agent{Name: in.Name, Instructions: in.Instructions, Greeting: in.Greeting, Voice: in.Voice, Model: in.Model,
		Language: in.Language, Tools: in.Tools, DialPolicy: in.DialPolicy}
	for _, d := range []struct {
		field, value string
		dst          *time.Duration
	}{{"maxCallDuration", in.MaxCallDuration, &a.MaxCallDuration}, {"idleTimeout", in.IdleTimeout, &a.IdleTimeout}} {
		if d.value == "" {
			continue
		}
		v, err := time.ParseDuration(d.value)
		if err != nil || v <= 0 {
			return agents.Agent{}, apperr.Errorf(apperr.Invalid, "%s must be a duration such as 30m or 2m", d.field)
		}
		*d.dst = v
	}
	return a, nil
}

// toolJSON is an HTTP tool on the wire. Secret is set only in the answers
// of POST /api/tools and rotate-secret; it is refused on the way in.
type toolJSON struct {
	Name          string          `json:"name"`
	Description   string          `json:"description"`
	Parameters    json.RawMessage `json:"parameters"`
	URL           string          `json:"url"`
	TimeoutMs     int             `json:"timeoutMs"`
	IncludeCaller bool            `json:"includeCaller"`
	CreatedAt     time.Time       `json:"createdAt,omitzero"`
	UpdatedAt     time.Time       `json:"updatedAt,omitzero"`
	Secret        string          `json:"secret,omitempty"`
}

func toolOut(t agents.Tool) toolJSON {
	return toolJSON{Name: t.Name, Description: t.Description, Parameters: t.Parameters, URL: t.URL, TimeoutMs: t.TimeoutMs,
		IncludeCaller: t.IncludeCaller, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

func (in toolJSON) toTool() (agents.Tool, error) {
	if in.Secret != "" || !in.CreatedAt.IsZero() || !in.UpdatedAt.IsZero() {
		return agents.Tool{}, apperr.New(apperr.Invalid, "secret, createdAt and updatedAt are assigned by the server")
	}
	return agents.Tool{Name: in.Name, Description: in.Description, Parameters: in.Parameters, URL: in.URL, TimeoutMs: in.TimeoutMs, IncludeCaller: in.IncludeCaller}, nil
}

type numberJSON struct {
	PhoneNumber string    `json:"phoneNumber"`
	AgentID     string    `json:"agentId"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

type numberInJSON struct {
	AgentID string `json:"agentId"`
}

// handleAgentsList is GET /api/agents: the default agent first, then the
// stored ones by name.
func (s *Server) handleAgentsList(w http.ResponseWriter, r *http.Request) {
	as, err := s.Agents.ListAgents(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]agentJSON, len(as))
	for i, a := range as {
		out[i] = agentOut(a)
	}
	writeJSON(w, http.StatusOK, out)
}

// handleAgentCreate is POST /api/agents (201).
func (s *Server) handleAgentCreate(w http.ResponseWriter, r *http.Request) {
	var in agentJSON
	if !s.decode(w, r, &in) {
		return
	}
	a, err := in.toAgent()
	if err == nil {
		a, err = s.Agents.CreateAgent(r.Context(), actor(r), a)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/agents/"+a.ID)
	writeJSON(w, http.StatusCreated, agentOut(a))
}

// handleAgentGet is GET /api/agents/{id} ("default" included).
func (s *Server) handleAgentGet(w http.ResponseWriter, r *http.Request) {
	a, err := s.Agents.GetAgent(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, agentOut(a))
}

// handleAgentUpdate is PUT /api/agents/{id}: replace an agent (409 for
// the default agent). Live calls keep the agent they started with.
func (s *Server) handleAgentUpdate(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if id == agents.DefaultID {
		s.writeError(w, r, apperr.New(apperr.Conflict, "the default agent comes from the environment (AGENT_*, REALTIME_*) and cannot be changed here"))
		return
	}
	var in agentJSON
	if !s.decode(w, r, &in) {
		return
	}
	if in.ID == id {
		in.ID = ""
	}
	a, err := in.toAgent()
	if err == nil {
		a, err = s.Agents.UpdateAgent(r.Context(), actor(r), id, a)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, agentOut(a))
}

// handleAgentDelete is DELETE /api/agents/{id} (204; 409 for the default
// agent and for an agent a number uses).
func (s *Server) handleAgentDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.Agents.DeleteAgent(r.Context(), actor(r), chi.URLParam(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleNumbersList is GET /api/numbers.
func (s *Server) handleNumbersList(w http.ResponseWriter, r *http.Request) {
	ns, err := s.Agents.ListNumbers(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]numberJSON, len(ns))
	for i, n := range ns {
		out[i] = numberJSON{PhoneNumber: n.PhoneNumber, AgentID: n.AgentID, UpdatedAt: n.UpdatedAt}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleNumberPut is PUT /api/numbers/{phoneNumber} {"agentId":...}: 201
// for a new assignment, 200 for a replaced one.
func (s *Server) handleNumberPut(w http.ResponseWriter, r *http.Request) {
	var in numberInJSON
	if !s.decode(w, r, &in) {
		return
	}
	n, created, err := s.Agents.PutNumber(r.Context(), actor(r), pathNumber(r), in.AgentID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := numberJSON{PhoneNumber: n.PhoneNumber, AgentID: n.AgentID, UpdatedAt: n.UpdatedAt}
	if created {
		writeJSON(w, http.StatusCreated, out)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleNumberDelete is DELETE /api/numbers/{phoneNumber} (204).
func (s *Server) handleNumberDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.Agents.DeleteNumber(r.Context(), actor(r), pathNumber(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleToolsList is GET /api/tools (never a secret).
func (s *Server) handleToolsList(w http.ResponseWriter, r *http.Request) {
	ts, err := s.Agents.ListTools(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]toolJSON, len(ts))
	for i, t := range ts {
		out[i] = toolOut(t)
	}
	writeJSON(w, http.StatusOK, out)
}

// handleToolCreate is POST /api/tools (201): the answer holds the signing
// secret, this once.
func (s *Server) handleToolCreate(w http.ResponseWriter, r *http.Request) {
	var in toolJSON
	if !s.decode(w, r, &in) {
		return
	}
	t, err := in.toTool()
	var secret string
	if err == nil {
		t, secret, err = s.Agents.CreateTool(r.Context(), actor(r), t)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := toolOut(t)
	out.Secret = secret
	w.Header().Set("Location", "/api/tools/"+t.Name)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

// handleToolGet is GET /api/tools/{name}.
func (s *Server) handleToolGet(w http.ResponseWriter, r *http.Request) {
	t, err := s.Agents.GetTool(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toolOut(t))
}

// handleToolUpdate is PUT /api/tools/{name}: replace the definition (the
// secret is kept; rotate it with rotate-secret).
func (s *Server) handleToolUpdate(w http.ResponseWriter, r *http.Request) {
	var in toolJSON
	if !s.decode(w, r, &in) {
		return
	}
	t, err := in.toTool()
	if err == nil {
		t, err = s.Agents.UpdateTool(r.Context(), actor(r), chi.URLParam(r, "name"), t)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toolOut(t))
}

// handleToolDelete is DELETE /api/tools/{name} (204; 409 while an agent
// lists it).
func (s *Server) handleToolDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.Agents.DeleteTool(r.Context(), actor(r), chi.URLParam(r, "name")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleToolRotate is POST /api/tools/{name}/rotate-secret: a new signing
// secret, answered this once; the old one stops signing at once.
func (s *Server) handleToolRotate(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	secret, err := s.Agents.RotateSecret(r.Context(), actor(r), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"name": name, "secret": secret})
}
