// Package calllog is the operators' read-only view of call history: the
// listing behind GET /api/calls and the dashboard's recent calls. The
// inbound-calls service owns writing call records; this package only
// names what a listing returns and how it is filtered.
package calllog

import (
	"context"
	"regexp"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

// Special status filters besides Twilio's call statuses.
const (
	StatusActive = "active" // a live media stream right now
	StatusEnded  = "ended"  // any final status
)

// Summary is one call as listed. Numbers are stored unmasked; the HTTP
// layer masks them unless LOGS_SHOW_NUMBERS is set.
type Summary struct {
	CallSID     string     `json:"callSid"`
	Direction   string     `json:"direction"`
	AgentID     string     `json:"agentId"`
	From        string     `json:"from"`
	To          string     `json:"to"`
	FromCountry string     `json:"fromCountry,omitempty"`
	Decision    string     `json:"decision"`
	Reason      string     `json:"reason,omitempty"`
	Status      string     `json:"status"`
	Active      bool       `json:"active"`
	DurationSec *int64     `json:"durationSec,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	AnsweredAt  *time.Time `json:"answeredAt,omitempty"`
	EndedAt     *time.Time `json:"endedAt,omitempty"`
	EndReason   string     `json:"endReason,omitempty"`
	// FirstAudioMs and ResponseP50Ms are the call's measured latencies
	// (see Latency), when it had any.
	FirstAudioMs  *int64 `json:"firstAudioMs,omitempty"`
	ResponseP50Ms *int64 `json:"responseP50Ms,omitempty"`
}

// Cursor is a position in the newest-first listing: the last call of the
// previous page.
type Cursor struct {
	CreatedAt time.Time
	CallSID   string
}

// Filter selects calls. Limit is 1..MaxLimit. Since (inclusive) and Until
// (exclusive) bound when the call was received; zero means unbounded.
type Filter struct {
	Status    string
	Direction string // inbound, outbound or "" for both
	AgentID   string // "default" for the default agent, "" for any
	Since     time.Time
	Until     time.Time
	After     *Cursor
	Limit     int
}

// Listing limits.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

var (
	statusPattern  = regexp.MustCompile(`^[a-z][a-z-]{0,31}$`)
	agentIDPattern = regexp.MustCompile(`^(default|agt_[0-9a-f]{24})$`)
)

// Validate checks the filter.
func (f Filter) Validate() error {
	if f.Status != "" && !statusPattern.MatchString(f.Status) {
		return apperr.New(apperr.Invalid, "status must be a call status (e.g. completed), active or ended")
	}
	if f.Direction != "" && f.Direction != "inbound" && f.Direction != "outbound" {
		return apperr.New(apperr.Invalid, "direction must be inbound or outbound")
	}
	if f.AgentID != "" && !agentIDPattern.MatchString(f.AgentID) {
		return apperr.New(apperr.Invalid, "agentId must be default or an agent id (agt_ and 24 hex digits)")
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return apperr.New(apperr.Invalid, "until must be after since")
	}
	if f.Limit < 1 || f.Limit > MaxLimit {
		return apperr.Errorf(apperr.Invalid, "limit must be between 1 and %d", MaxLimit)
	}
	return nil
}

// Store lists calls, newest first.
type Store interface {
	ListCalls(ctx context.Context, f Filter) ([]Summary, error)
}
