// Package contacts keeps the people the voice agent may connect callers
// to: a name (unique, case-insensitively), an E.164 number, aliases the
// caller may say instead of the name, and a note.
package contacts

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/phone"
)

// Limits.
const (
	MaxNameLen  = 100   // characters in a name or alias
	MaxAliases  = 20    // aliases per contact
	MaxNoteLen  = 1000  // characters in a note
	MaxContacts = 10000 // contacts in a replace-all
)

// Contact is one saved contact.
type Contact struct {
	ID          string
	Name        string
	PhoneNumber string // E.164
	Aliases     []string
	Note        string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Key is the case-insensitive form a name or alias is compared in.
func Key(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(name), " "))
}

// Normalize trims the name, aliases and note and drops empty and repeated
// aliases. The number is left as given: API input must already be E.164
// (Validate refuses anything else), so "5555550142" is an error rather
// than a silently different "+5555550142".
func (c *Contact) Normalize() {
	c.Name = strings.Join(strings.Fields(c.Name), " ")
	c.Note = strings.TrimSpace(c.Note)
	seen := map[string]bool{Key(c.Name): true}
	aliases := make([]string, 0, len(c.Aliases))
	for _, a := range c.Aliases {
		a = strings.Join(strings.Fields(a), " ")
		if a == "" || seen[Key(a)] {
			continue
		}
		seen[Key(a)] = true
		aliases = append(aliases, a)
	}
	c.Aliases = aliases
}

// Validate checks the contact's rules; the error is apperr.Invalid and
// names the field.
func (c *Contact) Validate() error {
	if n := utf8.RuneCountInString(c.Name); n < 1 || n > MaxNameLen {
		return apperr.Errorf(apperr.Invalid, "name must be 1 to %d characters", MaxNameLen)
	}
	if !phone.Valid(c.PhoneNumber) {
		return apperr.New(apperr.Invalid, "phoneNumber must be an E.164 number such as +15551234567")
	}
	if len(c.Aliases) > MaxAliases {
		return apperr.Errorf(apperr.Invalid, "at most %d aliases", MaxAliases)
	}
	for _, a := range c.Aliases {
		if utf8.RuneCountInString(a) > MaxNameLen {
			return apperr.Errorf(apperr.Invalid, "aliases must be 1 to %d characters", MaxNameLen)
		}
	}
	if utf8.RuneCountInString(c.Note) > MaxNoteLen {
		return apperr.Errorf(apperr.Invalid, "note must be at most %d characters", MaxNoteLen)
	}
	for _, s := range append([]string{c.Name, c.Note}, c.Aliases...) {
		if !utf8.ValidString(s) || strings.ContainsFunc(s, isControl) {
			return apperr.New(apperr.Invalid, "text fields must not contain control characters")
		}
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }

// Store keeps contacts. Name uniqueness is enforced on Key(name): a
// violation is apperr.Conflict.
type Store interface {
	ListContacts(ctx context.Context) ([]Contact, error)
	GetContact(ctx context.Context, id string) (Contact, error)
	InsertContact(ctx context.Context, c Contact) error
	UpdateContact(ctx context.Context, c Contact) error
	DeleteContact(ctx context.Context, id string) error
	// ReplaceContacts replaces every contact in one transaction.
	ReplaceContacts(ctx context.Context, cs []Contact, now time.Time) error
	// ContactsMatching returns contacts whose name key equals key or whose
	// aliases may contain it (the caller filters exactly).
	ContactsMatching(ctx context.Context, key string) ([]Contact, error)
	// ContactByNumber returns the first contact with the number, or
	// apperr.NotFound.
	ContactByNumber(ctx context.Context, number string) (Contact, error)
}
