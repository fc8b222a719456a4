package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/voiceagent/voiceagent/internal/redact"
)

// CallSnapshot is the data of call.started and call.refused, recorded in
// the admission's transaction. Numbers are stored as they are and masked
// when the body is made (unless LOGS_SHOW_NUMBERS is true).
type CallSnapshot struct {
	CallSID    string    `json:"callSid"`
	Direction  string    `json:"direction"`
	AgentID    string    `json:"agentId"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Status     string    `json:"status"`
	Decision   Decision  `json:"decision"`
	ReceivedAt time.Time `json:"receivedAt"`
}

// Decision is the policy decision of a call: its result (accept, reject,
// hangup, busy) and the rule that chose it ("" for accept).
type Decision struct {
	Result string `json:"result"`
	Rule   string `json:"rule"`
}

// Payload encodes a snapshot for the outbox.
func (c CallSnapshot) Payload() string {
	b, err := json.Marshal(c)
	if err != nil {
		panic("webhooks: encode call snapshot: " + err.Error()) // plain fields only
	}
	return string(b)
}

// AuditPayload is the data of tool.failed and security.alert: the audit
// event's detail (already redacted by the audit recorder) with its call,
// if any, and time.
func AuditPayload(callSID string, at time.Time, detail map[string]any) string {
	b, err := json.Marshal(map[string]any{"callSid": callSID, "at": at.UTC(), "detail": detail})
	if err != nil {
		return `{"callSid":` + quote(callSID) + `}`
	}
	return string(b)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// CallDetails builds the data of call.ended: the call's details,
// transcript included (numbers masked unless showNumbers).
type CallDetails func(ctx context.Context, callSID string, showNumbers bool) (any, error)

// envelope is the body every delivery sends.
type envelope struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"createdAt"`
	Data      json.RawMessage `json:"data"`
}

// render makes the body of p: {"id","type","createdAt","data"}.
func render(ctx context.Context, p Pending, details CallDetails, showNumbers bool) ([]byte, error) {
	var data []byte
	switch p.Type {
	case CallEnded:
		if details == nil {
			return nil, fmt.Errorf("webhooks: no call details for %s", p.Type)
		}
		d, err := details(ctx, p.CallSID, showNumbers)
		if err != nil {
			return nil, fmt.Errorf("webhooks: call details: %w", err)
		}
		if data, err = json.Marshal(d); err != nil {
			return nil, fmt.Errorf("webhooks: encode call details: %w", err)
		}
	case CallStarted, CallRefused:
		var c CallSnapshot
		if err := json.Unmarshal([]byte(p.Payload), &c); err != nil {
			return nil, fmt.Errorf("webhooks: decode call snapshot: %w", err)
		}
		if !showNumbers {
			c.From, c.To = redact.Phone(c.From), redact.Phone(c.To)
		}
		data, _ = json.Marshal(c)
	default:
		data = []byte(p.Payload)
		if !json.Valid(data) {
			data = []byte("{}")
		}
	}
	return json.Marshal(envelope{ID: p.EventID, Type: p.Type, CreatedAt: p.CreatedAt.UTC(), Data: data})
}
