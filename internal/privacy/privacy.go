// Package privacy answers data subject requests for one phone number:
// export everything stored about it, or erase it everywhere in one
// transaction. Audit events are kept (they prove what happened) but the
// number inside them is replaced by a keyed hash, so the same number can
// still be correlated by someone holding PRIVACY_HASH_KEY and nobody else.
package privacy

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/phone"
)

// Kinds of data counted by an erasure.
const (
	KindContacts               = "contacts"
	KindCalls                  = "calls"
	KindTranscripts            = "transcripts"
	KindConferences            = "conferences"
	KindConferenceParticipants = "conferenceParticipants"
	KindConferenceEvents       = "conferenceEvents"
	KindCallerLists            = "callerLists"
	KindAuditEvents            = "auditEvents" // rewritten, not deleted
	KindOther                  = "other"       // any other text column that held the number
)

// Counts is how many rows of each kind an erasure removed or rewrote.
type Counts map[string]int64

// Export is everything stored about one number.
type Export struct {
	PhoneNumber            string
	Contacts               []map[string]any
	Calls                  []map[string]any
	Transcripts            []map[string]any
	ConferenceParticipants []map[string]any
	CallerLists            []map[string]any
	AuditEvents            []map[string]any
}

// Store erases and exports in storage.
type Store interface {
	// EraseNumber removes number from every table in one transaction;
	// where a row must stay (audit events) number is replaced by
	// replacement.
	EraseNumber(ctx context.Context, number, replacement string) (Counts, error)
	// ExportNumber reads every row about number.
	ExportNumber(ctx context.Context, number string) (Export, error)
}

// Auditor records audit events (*audit.Recorder).
type Auditor interface {
	Record(ev audit.Event)
}

// Service runs data subject requests.
type Service struct {
	store   Store
	audit   Auditor
	hashKey []byte
}

// NewService returns a service hashing with key (PRIVACY_HASH_KEY).
func NewService(store Store, auditor Auditor, key string) *Service {
	return &Service{store: store, audit: auditor, hashKey: []byte(key)}
}

// Hash is the keyed hash that stands for number in kept records:
// "erased:" and the first 32 hex characters of HMAC-SHA256(key, number).
func (s *Service) Hash(number string) string {
	m := hmac.New(sha256.New, s.hashKey)
	m.Write([]byte(number))
	return "erased:" + hex.EncodeToString(m.Sum(nil))[:32]
}

func checkNumber(number string) error {
	if !phone.Valid(number) {
		return apperr.New(apperr.Invalid, "phoneNumber must be an E.164 number such as +15551234567")
	}
	return nil
}

// Erase removes number everywhere and audits the erasure (with the hash,
// never the number).
func (s *Service) Erase(ctx context.Context, actor, number string) (Counts, error) {
	if err := checkNumber(number); err != nil {
		return nil, err
	}
	hash := s.Hash(number)
	counts, err := s.store.EraseNumber(ctx, number, hash)
	if err != nil {
		return nil, err
	}
	detail := map[string]any{"action": "erase", "subject": hash}
	for k, v := range counts {
		detail[k] = v
	}
	s.audit.Record(audit.Event{Type: audit.TypeErasure, Severity: audit.Warning, Actor: actor, Detail: detail, Time: time.Now()})
	return counts, nil
}

// Export returns everything stored about number, and audits the export.
func (s *Service) Export(ctx context.Context, actor, number string) (Export, error) {
	if err := checkNumber(number); err != nil {
		return Export{}, err
	}
	ex, err := s.store.ExportNumber(ctx, number)
	if err != nil {
		return Export{}, err
	}
	s.audit.Record(audit.Event{Type: audit.TypeErasure, Actor: actor, Detail: map[string]any{"action": "export", "subject": s.Hash(number)}})
	return ex, nil
}
