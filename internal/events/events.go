// Package events carries live call events from the services to the /logs
// viewers. Publishing never blocks the caller.
package events

import "time"

// Event types published by the services.
const (
	CallReceived   = "call.received"  // Data: decision, reason, from (masked by viewers)
	CallAccepted   = "call.accepted"  //
	StreamStarted  = "stream.started" // Data: streamSid
	StreamStopped  = "stream.stopped" // Data: reason
	TranscriptLine = "transcript"     // Data: role ("caller"|"agent"), text
	ToolCall       = "tool.call"      // Data: name, arguments (no numbers unmasked)
	ToolResult     = "tool.result"    // Data: name, ok, result
	Transfer       = "call.transfer"  // Data: kind ("conference"|"forward"), target
	CallEnded      = "call.ended"     // Data: durationSec, status
	Error          = "error"          // Data: message
	SecurityAlert  = "security.alert" // Data: alert; never shed (MustDeliver)
	// A webhook delivery attempt that failed (state "retrying" or, once
	// given up, "failed"), and a webhook its receiver disabled with 410.
	// Data: webhookId, deliveryId, event, attempts, status, error, state.
	WebhookFailed   = "webhook.failed"
	WebhookDisabled = "webhook.disabled"
)

// Event is one live event. Data holds only JSON-friendly values and never
// audio.
type Event struct {
	Type    string         `json:"type"`
	CallSID string         `json:"callSid,omitempty"`
	Time    time.Time      `json:"time"`
	Data    map[string]any `json:"data,omitempty"`
}

// Publisher accepts events. Implementations must not block.
type Publisher interface {
	Publish(ev Event)
}

// Discard is a Publisher that drops everything.
type Discard struct{}

// Publish implements Publisher.
func (Discard) Publish(Event) {}
