package relay

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/tokenbucket"
)

// Budget is what one call may use, written down in one place. The model
// endpoint is an untrusted peer (operators point REALTIME_URL at
// self-hosted and third-party models), so everything it can make a call
// hold, start or write is bounded here. A call that exceeds a limit ends
// gracefully (the caller hears the standard apology, the model session
// closes, the slot is freed), a security_alert naming the limit is
// audited and voiceagent_call_budget_exceeded_total{limit} rises; no other
// call is affected. Two limits answer instead of ending: a second
// transfer gets an error output, and log lines past LogLines are counted,
// not written.
type Budget struct {
	// QueueBytes bounds the bytes queued towards each peer (Twilio and
	// the model), on top of the entry count: a queue entry can hold many
	// messages. A full queue holds the sender back (backpressure) until
	// the peer reads or the write deadline ends the call.
	QueueBytes int
	// TranscriptItemBytes bounds the agent transcript text of one item
	// (the deltas are accumulated until .done).
	TranscriptItemBytes int
	// TranscriptCallBytes bounds the transcript text received in a call,
	// agent and caller, deltas and final transcripts.
	TranscriptCallBytes int
	// StoredTranscriptBytes bounds the transcript bytes a call hands to
	// the store (each line counts its text plus transcriptRowOverhead).
	StoredTranscriptBytes int
	// ItemIDBytes bounds a model-chosen item_id or call_id.
	ItemIDBytes int
	// PendingItems bounds the assistant items whose audio waits for
	// Twilio's marks; PendingMarks the marks themselves.
	PendingItems int
	PendingMarks int
	// ToolCallsPerResponse and ToolCallsPerCall bound the function calls
	// the model makes; ToolWorkers is how many run at once (on that many
	// per-call workers, never a goroutine per call_id).
	ToolCallsPerResponse int
	ToolCallsPerCall     int
	ToolWorkers          int
	// TransfersPerCall bounds conference/forward actions; one more is
	// answered with an error (Twilio ends the stream after the first).
	TransfersPerCall int
	// ErrorEvents bounds the model's error events per call (the routine
	// active-response refusal excluded).
	ErrorEvents int
	// LogLines bounds the warning and error lines a call writes; the rest
	// are counted and the count logged when the call ends.
	LogLines int
	// EventsPerSecond and EventBurst bound the live events (transcript
	// lines, tool calls and results, errors) a call publishes to /logs
	// viewers, so one noisy call cannot fill every viewer's queue; the
	// call's lifecycle events always go out. The rest are counted.
	EventsPerSecond int
	EventBurst      int
}

// DefaultBudget is the per-call budget. A normal call stays far below
// every limit: an hour of speech is about 100 KB of transcript, item ids
// are about 30 bytes, and a turn uses one or two tools.
func DefaultBudget() Budget {
	return Budget{
		QueueBytes:            1 << 20,
		TranscriptItemBytes:   32 << 10,
		TranscriptCallBytes:   1 << 20,
		StoredTranscriptBytes: 1 << 20,
		ItemIDBytes:           128,
		PendingItems:          256,
		PendingMarks:          16384,
		ToolCallsPerResponse:  4,
		ToolCallsPerCall:      20,
		ToolWorkers:           2,
		TransfersPerCall:      1,
		ErrorEvents:           50,
		LogLines:              50,
		EventsPerSecond:       10,
		EventBurst:            60,
	}
}

// Budget limit names, as audited and used as the metric label.
const (
	limitTranscriptItem   = "transcript_item_bytes"
	limitTranscriptCall   = "transcript_call_bytes"
	limitStoredTranscript = "stored_transcript_bytes"
	limitItemID           = "item_id_bytes"
	limitPendingItems     = "pending_items"
	limitPendingMarks     = "pending_marks"
	limitToolsPerResponse = "tool_calls_per_response"
	limitToolsPerCall     = "tool_calls_per_call"
	limitErrorEvents      = "error_events"
	limitTransfers        = "transfers_per_call" // answered, not ended
)

// transcriptRowOverhead is what a stored line costs beyond its text (call
// SID, role, time, row and index overhead), so a flood of tiny lines is
// bounded too.
const transcriptRowOverhead = 64

// endBudget ends a call that exceeded its budget.
const endBudget endReason = "budget_exceeded"

// overBudget ends the call because limit was exceeded: audited once, as a
// security_alert, and counted. Safe from any of the call's goroutines.
func (c *Call) overBudget(limit string) {
	if !c.budgetHit.CompareAndSwap(false, true) {
		return
	}
	c.r.m.BudgetExceeded.WithLabelValues(limit).Inc()
	c.r.audit(audit.Event{Type: audit.TypeSecurityAlert, Severity: audit.Warning, Actor: "relay", CallSID: c.callSID,
		Detail: map[string]any{"alert": "call_budget_exceeded", "limit": limit}})
	c.log.Warn("call exceeded its budget; ending it", "limit", limit)
	c.end(endBudget)
}

// logSampler writes a call's first n warning lines and counts the rest.
type logSampler struct {
	n          int32
	written    atomic.Int32
	suppressed atomic.Int32
}

// warn writes a warning line for the call unless its log budget is spent.
func (c *Call) warn(msg string, args ...any) { c.logAt(slog.LevelWarn, msg, args...) }

func (c *Call) logAt(lvl slog.Level, msg string, args ...any) {
	if c.logs.written.Add(1) > c.logs.n {
		c.logs.suppressed.Add(1)
		return
	}
	aside(func() { c.log.Log(context.Background(), lvl, msg, args...) })
}

// eventLimiter is a call's token bucket for live events; any of the
// call's goroutines may publish.
type eventLimiter struct {
	mu      sync.Mutex
	bucket  tokenbucket.Bucket
	dropped int
}

// maxPublishedText bounds a text field of a live event (a transcript
// line is stored up to maxTranscriptLine but shown shorter).
const maxPublishedText = 2 << 10

// publish sends a live event of the call within its event budget.
func (c *Call) publish(typ string, data map[string]any) {
	c.events.mu.Lock()
	ok := c.events.bucket.Allow(time.Now())
	if !ok {
		c.events.dropped++
	}
	c.events.mu.Unlock()
	if ok {
		c.r.publish(typ, c.callSID, data)
	}
}

// shorten caps a published text at maxPublishedText bytes.
func shorten(s string) string {
	if len(s) <= maxPublishedText {
		return s
	}
	return strings.ToValidUTF8(s[:maxPublishedText], "") + "…"
}
