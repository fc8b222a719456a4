// Package transcript holds what was said on a call: the line type, its
// roles, and the Store interface the relay writes lines through. It is a
// domain package, so storage depends on it and never on the relay.
package transcript

import (
	"context"
	"fmt"
	"time"
)

// Transcript roles.
const (
	RoleCaller = "caller"
	RoleAgent  = "agent"
)

// Line is one utterance of a call: the caller's input transcription or
// the agent's output transcript.
type Line struct {
	CallSID string
	Role    string // RoleCaller or RoleAgent
	Text    string
	Time    time.Time
}

// Store persists transcript lines.
type Store interface {
	// InsertTranscripts stores a batch of lines (of many calls). A line
	// the store refuses must not lose the others: it is dropped and
	// reported as a DroppedLinesError.
	InsertTranscripts(ctx context.Context, lines []Line) error
}

// DroppedLinesError reports lines of a batch a Store refused and dropped;
// the rest of the batch was stored.
type DroppedLinesError struct {
	N   int   // lines dropped
	Err error // the first refusal
}

func (e DroppedLinesError) Error() string {
	return fmt.Sprintf("%d transcript line(s) refused and dropped: %v", e.N, e.Err)
}

func (e DroppedLinesError) Unwrap() error { return e.Err }
