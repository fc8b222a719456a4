package relay

import (
	"strings"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// maxErrorReports bounds the error events (and audit rows) one call
// produces, so a model that answers every frame with an error cannot fill
// the audit queue other calls share.
const maxErrorReports = 20

// maxErrorMessage bounds the model's error text kept in a report.
const maxErrorMessage = 300

// maxErrorCode bounds the model's error code, type and event_id.
const maxErrorCode = 64

// errorSource says which side an error came from.
const (
	sourceModel  = "model"
	sourceTwilio = "twilio"
)

// reportError publishes an error event for live viewers and, when
// audited, records an error_occurred audit row. message is either the
// relay's own fixed text or the model's error message (masked here); no
// audio ever reaches either.
func (c *Call) reportError(source, code, message string, audited bool) {
	if c.errReports.Add(1) > maxErrorReports {
		return
	}
	code = clip(code, maxErrorCode)
	if len(message) > maxErrorMessage {
		message = strings.ToValidUTF8(message[:maxErrorMessage], "")
	}
	message = redact.Text(cleanText(message))
	c.publish(events.Error, map[string]any{"source": source, "code": code, "message": message})
	if audited {
		c.r.audit(audit.Event{Type: audit.TypeError, Severity: audit.Warning, Actor: "relay", CallSID: c.callSID,
			Detail: map[string]any{"source": source, "code": code, "message": message}})
	}
}

// auditMessageCounts records the call's WebSocket messages by peer as
// message_received and message_sent audit rows (never per frame), after
// every goroutine of the call has ended.
func (c *Call) auditMessageCounts(sess *modelSession) {
	fromModel, toModel := int(c.received.model.Load()), int(c.model.sent.Load())
	if sess != nil {
		fromModel += sess.received
		toModel += sess.sent
	}
	c.r.audit(audit.Event{Type: audit.TypeMessageReceived, CallSID: c.callSID, Actor: "relay",
		Detail: map[string]any{"twilio": int(c.received.twilio.Load()), "model": fromModel}})
	c.r.audit(audit.Event{Type: audit.TypeMessageSent, CallSID: c.callSID, Actor: "relay",
		Detail: map[string]any{"twilio": int(c.tw.sent.Load()), "model": toModel}})
}
