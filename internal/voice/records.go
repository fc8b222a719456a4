package voice

import (
	"log/slog"
	"time"
)

// CallRecords records what happens to an accepted call after its
// admission: its stream starting, its hand-over and its end (EndCall).
// It needs only the call store, so internal/app builds it before the
// relay and the conference service that report through it, and before
// the Service that answers calls and pre-warms the relay.
type CallRecords struct {
	calls CallStore
	log   *slog.Logger
	now   func() time.Time
}

// NewCallRecords returns call records kept in calls; log may be nil.
func NewCallRecords(calls CallStore, log *slog.Logger) *CallRecords {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CallRecords{calls: calls, log: log, now: time.Now}
}
