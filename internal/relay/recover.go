package relay

import (
	"sync/atomic"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/panics"
)

// endPanic ends a call one of whose goroutines panicked; the teardown then
// closes both sockets and the model session and frees the call's slot.
const endPanic endReason = "internal_error"

// panicHook, when a test sets it, runs inside a call's goroutines (at
// points named by where) so the test can inject a panic there.
var panicHook atomic.Pointer[func(callSID, where string)]

// hook calls panicHook (tests only; one atomic load otherwise).
func (c *Call) hook(where string) {
	if h := panicHook.Load(); h != nil {
		(*h)(c.callSID, where)
	}
}

// contain runs one of the call's goroutines: a panic is logged (redacted,
// no stack in production), audited as error_occurred, and ends this call
// only; the other calls go on.
func (c *Call) contain(where string, fn func()) {
	defer func() {
		if v := recover(); v != nil {
			c.r.panicked(where, c.callSID, v)
			c.end(endPanic)
		}
	}()
	fn()
}

// goContain starts fn on a goroutine of its own that contains a panic the
// same way, for the relay's goroutines that belong to no call.
func (r *Relay) goContain(where, callSID string, fn func()) {
	go func() {
		defer func() {
			if v := recover(); v != nil {
				r.panicked(where, callSID, v)
			}
		}()
		fn()
	}()
}

// panicked reports a contained panic: an ERROR line and an error_occurred
// audit event.
func (r *Relay) panicked(where, callSID string, v any) {
	attrs := []any{"where", where}
	if callSID != "" {
		attrs = append(attrs, "call_sid", callSID)
	}
	panics.Log(r.log, "panic contained", "relay", v, !r.cfg.Production, attrs...)
	r.audit(audit.Event{Type: audit.TypeError, Severity: audit.Warning, Actor: "relay", CallSID: callSID,
		Detail: map[string]any{"source": "panic", "where": where, "message": panics.Message(v)}})
}
