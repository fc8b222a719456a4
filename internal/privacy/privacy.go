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
	KindCallDetails            = "callDetails" // tool calls and measurements of the number's calls
	KindConferences            = "conferences"
	KindConferenceParticipants = "conferenceParticipants"
	KindConferenceEvents       = "conferenceEvents"
	KindCallerLists            = "callerLists"
	KindAuditEvents            = "auditEvents"   // rewritten, not deleted
	KindEventPayloads          = "eventPayloads" // large live events kept briefly for LISTEN/NOTIFY
	KindStreamTokens           = "streamTokens"
	KindWebhookReceipts        = "webhookReceipts"
	KindWebhookOutbox          = "webhookOutbox"     // webhook events waiting for delivery (deleted)
	KindWebhookDeliveries      = "webhookDeliveries" // the webhook delivery log
	KindOther                  = "other"             // any other row with a text column that held the number
)

// AllKinds lists every kind, in the order the export shows them.
var AllKinds = []string{KindContacts, KindCalls, KindTranscripts, KindCallDetails, KindConferences, KindConferenceParticipants, KindConferenceEvents,
	KindCallerLists, KindAuditEvents, KindStreamTokens, KindWebhookReceipts, KindEventPayloads, KindWebhookOutbox, KindWebhookDeliveries, KindOther}

// Counts is how many rows of each kind an erasure removed or rewrote; a
// row counts once however many of its columns held the number.
type Counts map[string]int64

// Export is everything stored about one number: exactly the rows an
// erasure of the number deletes or rewrites, as they are before it.
type Export struct {
	PhoneNumber            string
	Contacts               []map[string]any
	Calls                  []map[string]any
	Transcripts            []map[string]any
	CallDetails            []map[string]any
	Conferences            []map[string]any
	ConferenceParticipants []map[string]any
	ConferenceEvents       []map[string]any
	CallerLists            []map[string]any
	AuditEvents            []map[string]any
	StreamTokens           []map[string]any
	WebhookReceipts        []map[string]any
	EventPayloads          []map[string]any
	WebhookOutbox          []map[string]any
	WebhookDeliveries      []map[string]any
	// Other holds rows of any other table, each with its table's name
	// under the key "_table".
	Other []map[string]any
}

// Add appends row to the list of its kind.
func (e *Export) Add(kind string, row map[string]any) {
	lists := map[string]*[]map[string]any{
		KindContacts: &e.Contacts, KindCalls: &e.Calls, KindTranscripts: &e.Transcripts, KindCallDetails: &e.CallDetails, KindConferences: &e.Conferences,
		KindConferenceParticipants: &e.ConferenceParticipants, KindConferenceEvents: &e.ConferenceEvents,
		KindCallerLists: &e.CallerLists, KindAuditEvents: &e.AuditEvents, KindStreamTokens: &e.StreamTokens,
		KindWebhookReceipts: &e.WebhookReceipts, KindEventPayloads: &e.EventPayloads,
		KindWebhookOutbox: &e.WebhookOutbox, KindWebhookDeliveries: &e.WebhookDeliveries,
	}
	l, ok := lists[kind]
	if !ok {
		l = &e.Other
	}
	*l = append(*l, row)
}

// Store erases and exports in storage.
type Store interface {
	// EraseNumber removes number from every table in one transaction;
	// where a row must stay (audit events) number is replaced by
	// replacement. Non-nil counts with an error mean the erasure was
	// committed but a later step (clearing freed space) failed.
	EraseNumber(ctx context.Context, number, replacement string) (Counts, error)
	// ExportNumber reads every row about number, in one read transaction.
	ExportNumber(ctx context.Context, number string) (Export, error)
}

// Auditor records audit events (*audit.Recorder).
type Auditor interface {
	Record(ev audit.Event)
}

// Flusher writes out audit events still queued (*audit.Recorder). The
// recorder writes from a queue, so an event recorded just before an
// erasure could otherwise reach the database after the sweep, number and
// all.
type Flusher interface {
	Flush(ctx context.Context)
}

// flushTimeout bounds the wait for the audit queue, which a busy server
// may never fully empty; the erasure then goes ahead with what was
// written.
const flushTimeout = 5 * time.Second

// Settings are the service's configuration.
type Settings struct {
	// HashKey keys the hash that replaces an erased number
	// (PRIVACY_HASH_KEY).
	HashKey string
	// ServiceNumbers are the service's own numbers (TWILIO_PHONE_NUMBER,
	// TWILIO_OUTBOUND_NUMBER; empty ones are ignored). Every call is to or
	// from one of them, so erasing one would delete every call: Erase
	// refuses them.
	ServiceNumbers map[string]string // number -> the variable that sets it
	// Assigned reports whether number is assigned to an agent
	// (PUT /api/numbers): such a number is a service number too, and is
	// refused the same way. Nil: no assigned numbers.
	Assigned func(ctx context.Context, number string) (bool, error)
}

// Service runs data subject requests.
type Service struct {
	store    Store
	audit    Auditor
	flusher  Flusher
	hashKey  []byte
	own      map[string]string // ServiceNumbers without empty ones
	assigned func(ctx context.Context, number string) (bool, error)
}

// NewService returns a service that flushes flusher (may be nil) before
// it reads or erases.
func NewService(store Store, auditor Auditor, flusher Flusher, st Settings) *Service {
	own := make(map[string]string, len(st.ServiceNumbers))
	for n, name := range st.ServiceNumbers {
		if n != "" {
			own[n] = name
		}
	}
	return &Service{store: store, audit: auditor, flusher: flusher, hashKey: []byte(st.HashKey), own: own, assigned: st.Assigned}
}

// Hash is the keyed hash that stands for number in kept records:
// "erased:" and the first 32 hex characters of HMAC-SHA256(key, number).
func (s *Service) Hash(number string) string {
	m := hmac.New(sha256.New, s.hashKey)
	m.Write([]byte(number))
	return "erased:" + hex.EncodeToString(m.Sum(nil))[:32]
}

// checkNumber accepts only a strict E.164 number of a length its
// country's plan allows: a prefix of a number is not a number.
func checkNumber(number string) error {
	if !phone.Valid(number) {
		return apperr.New(apperr.Invalid, "phoneNumber must be an E.164 number such as +15551234567")
	}
	if !phone.Possible(number) {
		return apperr.New(apperr.Invalid, "phoneNumber is not a possible number in its country's numbering plan")
	}
	return nil
}

// flush writes queued audit events, so the store sees them.
func (s *Service) flush(ctx context.Context) {
	if s.flusher == nil {
		return
	}
	fctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	s.flusher.Flush(fctx)
}

// Erase removes number everywhere and audits the erasure (with the hash,
// never the number). The service's own numbers are refused
// (apperr.Conflict): erasing one would delete every call.
func (s *Service) Erase(ctx context.Context, actor, number string) (Counts, error) {
	if err := checkNumber(number); err != nil {
		return nil, err
	}
	if name, ok := s.own[number]; ok {
		return nil, apperr.Errorf(apperr.Conflict, "refusing to erase %s, this service's own number: every call to or from it would be deleted", name)
	}
	if s.assigned != nil {
		yes, err := s.assigned(ctx, number)
		if err != nil {
			return nil, err
		}
		if yes {
			return nil, apperr.New(apperr.Conflict, "refusing to erase a number assigned to an agent (a service number): every call to it would be deleted; DELETE /api/numbers/{phoneNumber} first if it is no longer yours")
		}
	}
	s.flush(ctx)
	hash := s.Hash(number)
	counts, err := s.store.EraseNumber(ctx, number, hash)
	if err != nil && counts == nil {
		return nil, err // nothing committed
	}
	detail := map[string]any{"action": "erase", "subject": hash}
	for k, v := range counts {
		detail[k] = v
	}
	if err != nil {
		// Committed, but clearing the freed space failed: audited as such,
		// and answered as an error so the operator repeats it.
		detail["cleanup"] = "failed"
	}
	s.audit.Record(audit.Event{Type: audit.TypeErasure, Severity: audit.Warning, Actor: actor, Detail: detail, Time: time.Now()})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// Export returns everything stored about number, and audits the export.
func (s *Service) Export(ctx context.Context, actor, number string) (Export, error) {
	if err := checkNumber(number); err != nil {
		return Export{}, err
	}
	s.flush(ctx)
	ex, err := s.store.ExportNumber(ctx, number)
	if err != nil {
		return Export{}, err
	}
	s.audit.Record(audit.Event{Type: audit.TypeErasure, Actor: actor, Detail: map[string]any{"action": "export", "subject": s.Hash(number)}})
	return ex, nil
}
