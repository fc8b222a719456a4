package contacts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
)

// Auditor records audit events (*audit.Recorder).
type Auditor interface {
	Record(ev audit.Event)
}

// Service holds the contact rules.
type Service struct {
	store Store
	audit Auditor
	now   func() time.Time
}

// NewService returns a contacts service.
func NewService(store Store, auditor Auditor) *Service {
	return &Service{store: store, audit: auditor, now: time.Now}
}

// List returns every contact, ordered by name.
func (s *Service) List(ctx context.Context) ([]Contact, error) { return s.store.ListContacts(ctx) }

// Get returns one contact or apperr.NotFound.
func (s *Service) Get(ctx context.Context, id string) (Contact, error) {
	if !validID(id) {
		return Contact{}, apperr.New(apperr.NotFound, "contact not found")
	}
	return s.store.GetContact(ctx, id)
}

// Create validates and stores a new contact; a name already used
// (case-insensitively) is apperr.Conflict.
func (s *Service) Create(ctx context.Context, actor string, c Contact) (Contact, error) {
	c.Normalize()
	if err := c.Validate(); err != nil {
		return Contact{}, err
	}
	c.ID = newID()
	c.CreatedAt = s.now().UTC().Truncate(time.Millisecond)
	c.UpdatedAt = c.CreatedAt
	if err := s.store.InsertContact(ctx, c); err != nil {
		return Contact{}, err
	}
	s.record(actor, "create", c.ID, 1)
	return c, nil
}

// Update replaces the contact with id.
func (s *Service) Update(ctx context.Context, actor, id string, c Contact) (Contact, error) {
	c.Normalize()
	if err := c.Validate(); err != nil {
		return Contact{}, err
	}
	old, err := s.Get(ctx, id)
	if err != nil {
		return Contact{}, err
	}
	c.ID, c.CreatedAt = id, old.CreatedAt
	c.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
	if err := s.store.UpdateContact(ctx, c); err != nil {
		return Contact{}, err
	}
	s.record(actor, "update", id, 1)
	return c, nil
}

// Delete removes the contact with id.
func (s *Service) Delete(ctx context.Context, actor, id string) error {
	if !validID(id) {
		return apperr.New(apperr.NotFound, "contact not found")
	}
	if err := s.store.DeleteContact(ctx, id); err != nil {
		return err
	}
	s.record(actor, "delete", id, 1)
	return nil
}

// ReplaceAll replaces the whole set atomically: every contact must be
// valid and names and IDs unique within the set (apperr.Invalid naming the
// index), else nothing changes. A contact keeps a well-formed ID it
// carries (so a listed set can be edited and sent back); others get new
// IDs.
func (s *Service) ReplaceAll(ctx context.Context, actor string, cs []Contact) ([]Contact, error) {
	if len(cs) > MaxContacts {
		return nil, apperr.Errorf(apperr.Invalid, "at most %d contacts", MaxContacts)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	seen := make(map[string]int, len(cs))
	ids := make(map[string]int, len(cs))
	out := make([]Contact, len(cs))
	for i, c := range cs {
		c.Normalize()
		if err := c.Validate(); err != nil {
			return nil, apperr.Errorf(apperr.Invalid, "contact %d: %s", i, apperr.MessageOf(err))
		}
		if j, dup := seen[Key(c.Name)]; dup {
			return nil, apperr.Errorf(apperr.Invalid, "contact %d: name duplicates contact %d (names are unique, case-insensitively)", i, j)
		}
		seen[Key(c.Name)] = i
		if c.ID == "" {
			c.ID = newID()
		} else if !validID(c.ID) {
			return nil, apperr.Errorf(apperr.Invalid, "contact %d: id is malformed", i)
		} else if j, dup := ids[c.ID]; dup {
			return nil, apperr.Errorf(apperr.Invalid, "contact %d: id duplicates contact %d", i, j)
		}
		ids[c.ID] = i
		c.CreatedAt, c.UpdatedAt = now, now
		out[i] = c
	}
	if err := s.store.ReplaceContacts(ctx, out, now); err != nil {
		return nil, err
	}
	s.record(actor, "replace_all", "", len(out))
	return out, nil
}

// FindByNameOrAlias returns the contact whose name, or else alias, equals
// name case-insensitively. No match is apperr.NotFound; an alias shared by
// several contacts is apperr.Conflict.
func (s *Service) FindByNameOrAlias(ctx context.Context, name string) (Contact, error) {
	key := Key(name)
	if key == "" || len(key) > 4*MaxNameLen {
		return Contact{}, apperr.New(apperr.NotFound, "no contact with that name")
	}
	cands, err := s.store.ContactsMatching(ctx, key)
	if err != nil {
		return Contact{}, err
	}
	var byAlias []Contact
	for _, c := range cands {
		if Key(c.Name) == key {
			return c, nil
		}
		for _, a := range c.Aliases {
			if Key(a) == key {
				byAlias = append(byAlias, c)
				break
			}
		}
	}
	switch len(byAlias) {
	case 0:
		return Contact{}, apperr.New(apperr.NotFound, "no contact with that name")
	case 1:
		return byAlias[0], nil
	default:
		return Contact{}, apperr.New(apperr.Conflict, "several contacts have that alias")
	}
}

// ByNumber returns a contact with the E.164 number, or apperr.NotFound.
func (s *Service) ByNumber(ctx context.Context, number string) (Contact, error) {
	return s.store.ContactByNumber(ctx, number)
}

func (s *Service) record(actor, action, id string, count int) {
	d := map[string]any{"action": action, "count": count}
	if id != "" {
		d["id"] = id
	}
	s.audit.Record(audit.Event{Type: audit.TypeContactChange, Actor: actor, Detail: d})
}

// newID returns "ct_" and 16 random hex characters.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "ct_" + hex.EncodeToString(b[:])
}

// validID reports whether id has the form the service gives (ct_ and 16
// hex characters).
func validID(id string) bool {
	if len(id) != 19 || id[:3] != "ct_" {
		return false
	}
	for _, c := range id[3:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
