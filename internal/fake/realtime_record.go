package fake

import (
	"context"
	"encoding/json"
	"maps"
	"time"
)

// ClientEvent is one event a client sent, as received.
type ClientEvent struct {
	// Type is the event's "type" ("" if the frame was not valid JSON).
	Type string
	// EventID is the optional client event_id.
	EventID string
	// At is when the frame was received.
	At time.Time
	// Raw is the frame as received.
	Raw json.RawMessage
}

// Truncate is a conversation.item.truncate the server accepted.
type Truncate struct {
	ItemID       string
	ContentIndex int
	AudioEndMs   int
	// GeneratedMs is how much audio the item had when it was truncated.
	GeneratedMs int
	At          time.Time
}

// FunctionOutput is a function_call_output item the client created.
type FunctionOutput struct {
	CallID string
	Output string
	At     time.Time
}

// ServerError is an error event the fake sent.
type ServerError struct {
	Code    string
	Param   string
	Message string
	// EventID is the client event_id the error refers to, if any.
	EventID string
	At      time.Time
}

// ResponseRecord describes one response the fake produced.
type ResponseRecord struct {
	ID string
	// Status is in_progress, completed or cancelled.
	Status string
	// StatusReason is turn_detected or client_cancelled for cancelled ones.
	StatusReason string
	// ItemIDs are the output items (assistant messages or a function call).
	ItemIDs []string
	// AudioBytes is the mu-law audio sent in deltas, late deltas excluded.
	AudioBytes int
	// Transcript is the assistant transcript of the first item.
	Transcript string
	// Tool is the scripted call for function-call responses.
	Tool *ToolCall
	// CallID is the call_id of a function-call response.
	CallID string
	// Instructions and Metadata are the client's response.create
	// parameters (empty for a response the server started itself);
	// Metadata is echoed in response.created and response.done.
	Instructions string
	Metadata     map[string]string
	CreatedAt    time.Time
	DoneAt       time.Time
}

// convItem is a conversation item the fake knows about.
type convItem struct {
	id         string
	kind       string // message, function_call, function_call_output
	role       string
	audioBytes int
}

// sessionState is the mutable part of a session, guarded by its mu.
type sessionState struct {
	eventSeq    int
	config      map[string]any
	events      []ClientEvent
	appended    [][]byte
	appendCount int
	inputBytes  int
	uncommitted int
	truncates   []Truncate
	outputs     []FunctionOutput
	updates     []json.RawMessage
	errors      []ServerError
	responses   []*ResponseRecord

	items      map[string]*convItem
	calls      map[string]string // call_id -> function name
	lastItemID string
	userSeq    int
	asstSeq    int
	respSeq    int
	callSeq    int
	extSeq     int
	userTurns  int

	tools       []ToolCall
	scripts     []ScriptedResponse
	audioResps  int
	toolOutputs []string
	active      *activeResponse
	vad         vadState
	probeSeq    uint32

	closeCode int
	closed    bool
}

// Events returns every client event received so far, in order. With
// DiscardAudio, input_audio_buffer.append events are only counted
// (AppendCount), not listed.
func (s *RealtimeSession) Events() []ClientEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ClientEvent(nil), s.events...)
}

// EventsOfType returns the received client events of one type.
func (s *RealtimeSession) EventsOfType(typ string) []ClientEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ClientEvent
	for _, e := range s.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// CountEvents returns how many client events of a type were received.
func (s *RealtimeSession) CountEvents(typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// WaitEvents waits until at least n client events of type typ have arrived
// and returns them.
func (s *RealtimeSession) WaitEvents(ctx context.Context, typ string, n int) ([]ClientEvent, error) {
	var got []ClientEvent
	err := s.WaitFor(ctx, func() bool {
		got = s.EventsOfType(typ)
		return len(got) >= n
	})
	return got, err
}

// Appended returns the decoded audio of every input_audio_buffer.append
// (empty when DiscardAudio is set).
func (s *RealtimeSession) Appended() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.appended...)
}

// AppendCount is the number of input_audio_buffer.append events received.
func (s *RealtimeSession) AppendCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendCount
}

// InputMs is the duration of all appended audio (8 bytes per ms).
func (s *RealtimeSession) InputMs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inputBytes / BytesPerMs
}

// Truncates returns the accepted conversation.item.truncate requests.
func (s *RealtimeSession) Truncates() []Truncate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Truncate(nil), s.truncates...)
}

// FunctionOutputs returns the accepted function_call_output items.
func (s *RealtimeSession) FunctionOutputs() []FunctionOutput {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]FunctionOutput(nil), s.outputs...)
}

// SessionUpdates returns the "session" object of every session.update
// received, accepted or not.
func (s *RealtimeSession) SessionUpdates() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.updates...)
}

// Errors returns the error events the fake sent to this client.
func (s *RealtimeSession) Errors() []ServerError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ServerError(nil), s.errors...)
}

// Responses returns a snapshot of every response produced so far.
func (s *RealtimeSession) Responses() []ResponseRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ResponseRecord, len(s.responses))
	for i, r := range s.responses {
		out[i] = *r
		out[i].ItemIDs = append([]string(nil), r.ItemIDs...)
		out[i].Metadata = maps.Clone(r.Metadata)
	}
	return out
}

// GeneratedMs is how much audio the fake has sent for an assistant item.
func (s *RealtimeSession) GeneratedMs(itemID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it := s.items[itemID]; it != nil {
		return it.audioBytes / BytesPerMs
	}
	return 0
}

// ActiveResponse returns the id of the response in progress, or "".
func (s *RealtimeSession) ActiveResponse() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active == nil {
		return ""
	}
	return s.active.rec.ID
}

// Config returns the effective session configuration as JSON.
func (s *RealtimeSession) Config() json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := json.Marshal(s.config)
	return b
}

// Closed reports whether the socket has ended.
func (s *RealtimeSession) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// CloseCode is the close code the client sent, or 0 if it sent none.
func (s *RealtimeSession) CloseCode() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeCode
}
