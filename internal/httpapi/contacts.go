package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/contacts"
)

// contactJSON is a contact on the wire, both ways. On the way in, id is
// optional (ignored when it matches the path, kept by replace-all). Its
// rules are checked once, by the contacts service (Contact.Validate).
type contactJSON struct {
	ID          string   `json:"id,omitempty"`
	Name        string   `json:"name"`
	PhoneNumber string   `json:"phoneNumber"`
	Aliases     []string `json:"aliases"`
	Note        string   `json:"note"`
}

func (c contactJSON) toContact() contacts.Contact {
	return contacts.Contact{ID: c.ID, Name: c.Name, PhoneNumber: c.PhoneNumber, Aliases: c.Aliases, Note: c.Note}
}

func contactOut(c contacts.Contact) contactJSON {
	out := contactJSON{ID: c.ID, Name: c.Name, PhoneNumber: c.PhoneNumber, Aliases: c.Aliases, Note: c.Note}
	if out.Aliases == nil {
		out.Aliases = []string{}
	}
	return out
}

func contactsOut(cs []contacts.Contact) []contactJSON {
	out := make([]contactJSON, len(cs))
	for i, c := range cs {
		out[i] = contactOut(c)
	}
	return out
}

// handleContactsList is GET /api/contacts: every contact, by name.
func (s *Server) handleContactsList(w http.ResponseWriter, r *http.Request) {
	cs, err := s.Contacts.List(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, contactsOut(cs))
}

// handleContactsReplace is PUT /api/contacts: replace the whole set with
// the JSON array (at most 10,000), atomically.
func (s *Server) handleContactsReplace(w http.ResponseWriter, r *http.Request) {
	var in []contactJSON
	if !s.decode(w, r, &in) {
		return
	}
	if in == nil {
		s.writeError(w, r, apperr.New(apperr.Invalid, "request body must be a JSON array of contacts"))
		return
	}
	list := make([]contacts.Contact, len(in))
	for i, c := range in {
		list[i] = c.toContact()
	}
	out, err := s.Contacts.ReplaceAll(r.Context(), actor(r), list)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, contactsOut(out))
}

// handleContactCreate is POST /api/contacts: add one contact (201).
func (s *Server) handleContactCreate(w http.ResponseWriter, r *http.Request) {
	var in contactJSON
	if !s.decode(w, r, &in) {
		return
	}
	if in.ID != "" {
		s.writeError(w, r, apperr.New(apperr.Invalid, "id is assigned by the server"))
		return
	}
	c, err := s.Contacts.Create(r.Context(), actor(r), in.toContact())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/contacts/"+c.ID)
	writeJSON(w, http.StatusCreated, contactOut(c))
}

// handleContactGet is GET /api/contacts/{id}.
func (s *Server) handleContactGet(w http.ResponseWriter, r *http.Request) {
	c, err := s.Contacts.Get(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, contactOut(c))
}

// handleContactUpdate is PUT /api/contacts/{id}: replace one contact.
func (s *Server) handleContactUpdate(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	var in contactJSON
	if !s.decode(w, r, &in) {
		return
	}
	if in.ID != "" && in.ID != id {
		s.writeError(w, r, apperr.New(apperr.Invalid, "id in the body does not match the path"))
		return
	}
	c, err := s.Contacts.Update(r.Context(), actor(r), id, in.toContact())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, contactOut(c))
}

// handleContactDelete is DELETE /api/contacts/{id} (204).
func (s *Server) handleContactDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.Contacts.Delete(r.Context(), actor(r), chi.URLParam(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
