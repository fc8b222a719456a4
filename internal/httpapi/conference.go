package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/conference"
)

type conferenceAddRequest struct {
	ConferenceName string `json:"conferenceName" validate:"required,confname"`
	TargetNumber   string `json:"targetNumber" validate:"required,phone"`
}

type conferenceForwardRequest struct {
	ConferenceName string `json:"conferenceName,omitempty" validate:"omitempty,confname"`
	CallSID        string `json:"callSid,omitempty" validate:"omitempty,callsid"`
	TargetNumber   string `json:"targetNumber" validate:"required,phone"`
}

type conferenceEndRequest struct {
	ConferenceName string `json:"conferenceName" validate:"required,confname"`
}

// successJSON is the answer of conference actions.
type successJSON struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

// conferenceJSON is what GET /api/conference/{name} shows: voiceagent's own
// records, never a Twilio object.
type conferenceJSON struct {
	Name          string            `json:"name"`
	CallerCallSID string            `json:"callerCallSid"`
	Status        string            `json:"status"`
	CallerJoined  bool              `json:"callerJoined"`
	CreatedAt     time.Time         `json:"createdAt"`
	UpdatedAt     time.Time         `json:"updatedAt"`
	Participants  []participantJSON `json:"participants"`
	Events        []confEventJSON   `json:"events"`
}

type participantJSON struct {
	CallSID     string    `json:"callSid"`
	PhoneNumber string    `json:"phoneNumber,omitempty"`
	Role        string    `json:"role"`
	Status      string    `json:"status"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

type confEventJSON struct {
	SequenceNumber int64     `json:"sequenceNumber"`
	Event          string    `json:"event"`
	CallSID        string    `json:"callSid,omitempty"`
	Time           time.Time `json:"time"`
}

// handleConferenceAdd is POST /api/conference/add: move the caller into
// conf_<CallSid> if needed and dial targetNumber in.
func (s *Server) handleConferenceAdd(w http.ResponseWriter, r *http.Request) {
	var in conferenceAddRequest
	if !s.decodeValid(w, r, &in) {
		return
	}
	callSID, _ := conference.CallSIDOf(in.ConferenceName)
	if err := s.Conferences.AddParticipant(r.Context(), actor(r), callSID, in.TargetNumber); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, successJSON{Success: true, Message: "Participant added"})
}

// handleConferenceForward is POST /api/conference/forward: forward the
// caller's call (by conferenceName or callSid) to targetNumber.
func (s *Server) handleConferenceForward(w http.ResponseWriter, r *http.Request) {
	var in conferenceForwardRequest
	if !s.decodeValid(w, r, &in) {
		return
	}
	if (in.ConferenceName == "") == (in.CallSID == "") {
		s.writeError(w, r, apperr.New(apperr.Invalid, "give exactly one of conferenceName or callSid"))
		return
	}
	callSID := in.CallSID
	if in.ConferenceName != "" {
		callSID, _ = conference.CallSIDOf(in.ConferenceName)
	}
	if err := s.Conferences.Forward(r.Context(), actor(r), callSID, in.TargetNumber); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, successJSON{Success: true, Message: "Call forwarded"})
}

// handleConferenceEnd is POST /api/conference/end: end the conference.
func (s *Server) handleConferenceEnd(w http.ResponseWriter, r *http.Request) {
	var in conferenceEndRequest
	if !s.decodeValid(w, r, &in) {
		return
	}
	if err := s.Conferences.EndConference(r.Context(), actor(r), in.ConferenceName); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, successJSON{Success: true, Message: "Conference ended"})
}

// handleConferenceGet is GET /api/conference/{name}: what is stored about
// the conference (participants seen, events in sequence order).
func (s *Server) handleConferenceGet(w http.ResponseWriter, r *http.Request) {
	c, err := s.Conferences.Get(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := conferenceJSON{Name: c.Name, CallerCallSID: c.CallerCallSID, Status: c.Status, CallerJoined: c.CallerJoined,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Participants: []participantJSON{}, Events: []confEventJSON{}}
	for _, p := range c.Participants {
		out.Participants = append(out.Participants, participantJSON{CallSID: p.CallSID, PhoneNumber: p.Number, Role: p.Role, Status: p.Status, UpdatedAt: p.UpdatedAt})
	}
	for _, e := range c.Events {
		out.Events = append(out.Events, confEventJSON{SequenceNumber: e.Sequence, Event: e.Type, CallSID: e.CallSID, Time: e.At})
	}
	writeJSON(w, http.StatusOK, out)
}
