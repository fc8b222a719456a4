package voice

import (
	"context"
	"fmt"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/phone"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// Caller lists.
const (
	ListBlocked = "blocked" // deny list: <Reject/>
	ListAllowed = "allowed" // allow list: when non-empty, only these may call
)

// Sources of a list entry.
const (
	SourceEnv = "env" // CALLER_BLACKLIST / CALLER_WHITELIST, synced at start
	SourceAPI = "api" // added through /api/callers
)

// ListEntry is one number on a caller list.
type ListEntry struct {
	List      string    `json:"-"`
	Number    string    `json:"number"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"createdAt"`
}

// ListStore keeps the caller lists.
type ListStore interface {
	// ListCallers returns a list's entries ordered by number.
	ListCallers(ctx context.Context, list string) ([]ListEntry, error)
	// AddCaller stores e; created is false when the number was listed.
	AddCaller(ctx context.Context, e ListEntry) (created bool, err error)
	// RemoveCaller deletes a number from a list (NotFound when absent).
	RemoveCaller(ctx context.Context, list, number string) error
	// CallerListed reports whether number is on list and how many numbers
	// the list holds.
	CallerListed(ctx context.Context, list, number string) (listed bool, size int, err error)
	// CallerStatus is what the policy needs to know of one caller, in one
	// query (it runs for every incoming call).
	CallerStatus(ctx context.Context, number string) (CallerStatus, error)
	// SyncEnvCallers makes the list's env-sourced entries exactly numbers
	// (entries added through the API are kept).
	SyncEnvCallers(ctx context.Context, list string, numbers []string, at time.Time) error
}

// CallerStatus is a caller's standing on the lists.
type CallerStatus struct {
	Blocked        bool // on the deny list
	Allowed        bool // on the allow list
	AllowListInUse bool // the allow list has any entry (then only those may call)
}

// ValidList checks a list name from a URL.
func ValidList(list string) error {
	if list != ListBlocked && list != ListAllowed {
		return apperr.New(apperr.NotFound, "caller list must be blocked or allowed")
	}
	return nil
}

// SyncLists seeds the stored lists from the environment: the env-sourced
// entries become exactly blocked and allowed, so removing a number from
// CALLER_BLACKLIST and restarting unblocks it.
func (s *Service) SyncLists(ctx context.Context, blocked, allowed []string) error {
	now := s.now()
	if err := s.lists.SyncEnvCallers(ctx, ListBlocked, blocked, now); err != nil {
		return fmt.Errorf("seed deny list: %w", err)
	}
	if err := s.lists.SyncEnvCallers(ctx, ListAllowed, allowed, now); err != nil {
		return fmt.Errorf("seed allow list: %w", err)
	}
	return nil
}

// Callers returns a list's numbers.
func (s *Service) Callers(ctx context.Context, list string) ([]ListEntry, error) {
	if err := ValidList(list); err != nil {
		return nil, err
	}
	return s.lists.ListCallers(ctx, list)
}

// AddCaller puts number on list; the next call sees it. The number must
// already be E.164: API input is never rewritten (only environment lists
// are normalized, by config). It returns the entry and whether it was
// added now.
func (s *Service) AddCaller(ctx context.Context, actor, list, number string) (ListEntry, bool, error) {
	if err := ValidList(list); err != nil {
		return ListEntry{}, false, err
	}
	if !phone.Valid(number) {
		return ListEntry{}, false, apperr.New(apperr.Invalid, "number must be an E.164 phone number such as +15555550100")
	}
	n := number
	e := ListEntry{List: list, Number: n, Source: SourceAPI, CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	created, err := s.lists.AddCaller(ctx, e)
	if err != nil {
		return ListEntry{}, false, err
	}
	if created {
		s.auditList(actor, "add", list, n)
	}
	return e, created, nil
}

// RemoveCaller takes number (strict E.164, as for AddCaller) off list.
func (s *Service) RemoveCaller(ctx context.Context, actor, list, number string) error {
	if err := ValidList(list); err != nil {
		return err
	}
	if !phone.Valid(number) {
		return apperr.New(apperr.Invalid, "number must be an E.164 phone number such as +15555550100")
	}
	n := number
	if err := s.lists.RemoveCaller(ctx, list, n); err != nil {
		return err
	}
	s.auditList(actor, "remove", list, n)
	return nil
}

// Blocked reports whether number is on the deny list. The agent's dialling
// tools use it so a blocked number is never called either.
func (s *Service) Blocked(ctx context.Context, number string) (bool, error) {
	n, err := phone.Normalize(number)
	if err != nil {
		return false, nil
	}
	listed, _, err := s.lists.CallerListed(ctx, ListBlocked, n)
	return listed, err
}

func (s *Service) auditList(actor, action, list, number string) {
	s.audit.Record(audit.Event{
		Type:   audit.TypeCallerListChange,
		Actor:  actor,
		Detail: map[string]any{"action": action, "list": list, "number": redact.Phone(number)},
	})
}
