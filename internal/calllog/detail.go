package calllog

import (
	"context"
	"regexp"
	"slices"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// Detail is one call's whole story: GET /api/calls/{callSid} answers it,
// and the call.ended webhook carries it as its data. Fields that are not
// known (yet) are null: endReason and endedAt while the call is live,
// latencies when the agent never answered.
type Detail struct {
	CallSID         string       `json:"callSid"`
	Direction       string       `json:"direction"`
	AgentID         string       `json:"agentId"`
	From            string       `json:"from"`
	To              string       `json:"to"`
	Status          string       `json:"status"`
	Decision        DecisionInfo `json:"decision"`
	EndReason       *string      `json:"endReason"`
	ReceivedAt      time.Time    `json:"receivedAt"`
	AnsweredAt      *time.Time   `json:"answeredAt"`
	EndedAt         *time.Time   `json:"endedAt"`
	DurationSeconds *int64       `json:"durationSeconds"`
	Transcript      []Line       `json:"transcript"`
	Tools           []Tool       `json:"tools"`
	Latency         Latency      `json:"latency"`
	Usage           Usage        `json:"usage"`
}

// DecisionInfo is what the inbound policy (or the outbound guards) did
// with the call: result is accept, reject, hangup or busy; rule names the
// rule that turned it away (null when accepted).
type DecisionInfo struct {
	Result string  `json:"result"`
	Rule   *string `json:"rule"`
}

// Speakers of transcript lines.
const (
	SpeakerCaller = "caller"
	SpeakerAgent  = "agent"
)

// Line is one transcript line.
type Line struct {
	Speaker string    `json:"speaker"`
	Text    string    `json:"text"`
	At      time.Time `json:"at"`
}

// Tool outcomes.
const (
	ToolOK      = "ok"      // the tool ran (its answer may still be "not found")
	ToolError   = "error"   // it ran and failed, or timed out
	ToolRefused = "refused" // the call's agent or the dial policy did not allow it
)

// Tool is one tool the model called during the call.
type Tool struct {
	Name       string    `json:"name"`
	Outcome    string    `json:"outcome"`
	DurationMs int64     `json:"durationMs"`
	At         time.Time `json:"at"` // when it finished
}

// Latency is the agent's timing during the call, in milliseconds.
type Latency struct {
	// FirstAudioMs is from the stream's start to the first agent audio
	// handed to the caller.
	FirstAudioMs *int64 `json:"firstAudioMs"`
	// ResponseP50Ms and ResponseMaxMs are over the answers of the call:
	// each from the end of the caller's speech (the model's
	// speech_stopped) to the first audio of the answer.
	ResponseP50Ms *int64 `json:"responseP50Ms"`
	ResponseMaxMs *int64 `json:"responseMaxMs"`
}

// Usage sums the token usage the model reported in response.done.
type Usage struct {
	InputTokens  int64 `json:"inputTokens"`
	OutputTokens int64 `json:"outputTokens"`
}

// Stats is what the relay measured during one call, stored once when the
// call's stream ends.
type Stats struct {
	CallSID    string
	Latency    Latency
	Responses  int // answers the response latencies are over
	Usage      Usage
	Tools      []Tool
	RecordedAt time.Time
}

// MaxTools bounds the tool rows one call stores (the relay's per-call tool
// budget is lower).
const MaxTools = 64

// DetailStore reads one call's details.
type DetailStore interface {
	// CallDetail returns the call with its transcript, tools and
	// measurements, numbers unmasked; apperr.NotFound for an unknown call.
	CallDetail(ctx context.Context, callSID string) (Detail, error)
}

var callSIDPattern = regexp.MustCompile(`^CA[0-9a-fA-F]{32}$`)

// ValidCallSID reports whether s has the shape of a Twilio CallSid.
func ValidCallSID(s string) bool { return callSIDPattern.MatchString(s) }

// GetDetail is the one way to build a call's details (the API and the
// webhooks use it): the stored call, with phone numbers masked unless
// showNumbers (LOGS_SHOW_NUMBERS). A malformed CallSid is invalid; an
// unknown one not found.
func GetDetail(ctx context.Context, st DetailStore, callSID string, showNumbers bool) (Detail, error) {
	if !ValidCallSID(callSID) {
		return Detail{}, apperr.New(apperr.Invalid, "callSid must be CA followed by 32 hex digits")
	}
	d, err := st.CallDetail(ctx, callSID)
	if err != nil {
		return Detail{}, err
	}
	d.normalize()
	if !showNumbers {
		d = d.Masked()
	}
	return d, nil
}

// normalize fills the empty lists and the derived duration.
func (d *Detail) normalize() {
	if d.Transcript == nil {
		d.Transcript = []Line{}
	}
	if d.Tools == nil {
		d.Tools = []Tool{}
	}
	if d.AgentID == "" {
		d.AgentID = "default"
	}
	if d.DurationSeconds == nil && d.EndedAt != nil {
		start := d.ReceivedAt
		if d.AnsweredAt != nil {
			start = *d.AnsweredAt
		}
		n := int64(max(0, d.EndedAt.Sub(start).Seconds()))
		d.DurationSeconds = &n
	}
}

// Masked returns a copy with the phone numbers masked: the caller and
// callee, numbers spoken in the transcript, and any in a tool name (the
// model chooses the name it calls, known or not).
func (d Detail) Masked() Detail {
	d.From = redact.Phone(d.From)
	d.To = redact.Phone(d.To)
	lines := slices.Clone(d.Transcript)
	for i := range lines {
		lines[i].Text = redact.Text(lines[i].Text)
	}
	d.Transcript = lines
	tools := slices.Clone(d.Tools)
	for i := range tools {
		tools[i].Name = redact.Text(tools[i].Name)
	}
	d.Tools = tools
	return d
}

// Percentile50 is the median of ms (the lower middle value for an even
// count); nil for none. It sorts ms.
func Percentile50(ms []int64) *int64 {
	if len(ms) == 0 {
		return nil
	}
	slices.Sort(ms)
	v := ms[(len(ms)-1)/2]
	return &v
}
