package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/outbound"
	"github.com/voiceagent/voiceagent/internal/redact"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// callCreateRequest is the body of POST /api/calls. The fields are checked
// by the outbound service, each refusal with its own code.
type callCreateRequest struct {
	To               string `json:"to"`
	From             string `json:"from"`
	AgentID          string `json:"agentId"`
	Context          string `json:"context"`
	MachineDetection string `json:"machineDetection"`
}

type callCreateResponse struct {
	CallSID   string `json:"callSid"`
	Status    string `json:"status"`
	To        string `json:"to"`
	From      string `json:"from"`
	AgentID   string `json:"agentId"`
	Direction string `json:"direction"`
}

// handleCallCreate is POST /api/calls: the agent calls someone. 202 once
// Twilio has queued the call; every guard's refusal has its own code
// (outbound package), a rate limit's with Retry-After.
func (s *Server) handleCallCreate(w http.ResponseWriter, r *http.Request) {
	var in callCreateRequest
	if !s.decodeValid(w, r, &in) {
		return
	}
	p, err := s.Outbound.Place(r.Context(), principalOf(r.Context()).name, outbound.Request{
		To: in.To, From: in.From, AgentID: in.AgentID, Context: in.Context, MachineDetection: in.MachineDetection,
	})
	if err != nil {
		if d, ok := s.Outbound.RetryAfter(err); ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(d/time.Second)))
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, callCreateResponse{
		CallSID: p.CallSID, Status: p.Status, To: p.To, From: p.From, AgentID: p.AgentID, Direction: string(p.Direction),
	})
}

// handleCallEnd is POST /api/calls/{callSid}/end: hangs up a live call,
// inbound or outbound (Twilio Status=completed); 404 unknown, 409 ended.
func (s *Server) handleCallEnd(w http.ResponseWriter, r *http.Request) {
	sid := chi.URLParam(r, "callSid")
	if !callSIDPattern.MatchString(sid) {
		s.writeError(w, r, apperr.New(apperr.Invalid, "callSid must be CA followed by 32 hex digits"))
		return
	}
	if err := s.Outbound.End(r.Context(), principalOf(r.Context()).name, sid); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"callSid": sid, "status": "completed", "endReason": string(voice.EndOperator)})
}

// handleVoiceOutbound is POST /voice/outbound, Twilio's answering webhook
// of a call placed with POST /api/calls: <Connect><Stream> as for an
// incoming call, <Hangup/> for a machine (machineDetection=hangup) and
// for a call this server did not place or that has ended.
func (s *Server) handleVoiceOutbound(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeTwiMLError(w, r, apperr.New(apperr.Invalid, "malformed form body"))
		return
	}
	in := voice.Answered{CallSID: r.PostForm.Get("CallSid"), AnsweredBy: r.PostForm.Get("AnsweredBy")}
	a, err := s.Voice.ConnectOutbound(r.Context(), in)
	if err != nil {
		s.writeTwiMLError(w, r, err)
		return
	}
	s.logger(r).Debug("outbound call answered", "call_sid", in.CallSID, "answered_by", redact.Text(in.AnsweredBy), "ended", a.Ended)
	writeTwiML(w, http.StatusOK, a.TwiML)
}
