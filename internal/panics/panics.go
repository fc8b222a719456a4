// Package panics reports a panic that a goroutine contained: recover must
// be called in the goroutine's own deferred function, and this is what it
// then calls, so every background goroutine logs the same way (the value
// redacted, the stack only outside production).
package panics

import (
	"log/slog"
	"runtime/debug"

	"github.com/voiceagent/voiceagent/internal/redact"
)

// Message is a panic value as text safe to log: an error's or a string's
// text with phone numbers, IPs and token-like runs masked; any other
// value a fixed phrase (it could hold anything).
func Message(v any) string {
	switch x := v.(type) {
	case error:
		return redact.Text(x.Error())
	case string:
		return redact.Text(x)
	default:
		return "non-error panic value"
	}
}

// Log writes one ERROR line for a contained panic: msg, the component,
// the redacted value, the stack when stack is true (development only:
// stacks can hold request data), and attrs.
func Log(log *slog.Logger, msg, component string, v any, stack bool, attrs ...any) {
	a := append([]any{"component", component, "panic", Message(v)}, attrs...)
	if stack {
		a = append(a, "stack", string(debug.Stack()))
	}
	log.Error(msg, a...)
}
