package relay

import (
	"encoding/json"
	"errors"
	"strconv"
)

// modelKind is the kind of a Realtime server event the relay acts on. GA
// and beta names map to the same kind.
type modelKind uint8

// Realtime server event kinds.
const (
	mkIgnored modelKind = iota
	mkSession
	mkAudioDelta
	mkAudioDone
	mkAgentTranscriptDelta
	mkAgentTranscriptDone
	mkSpeechStarted
	mkSpeechStopped
	mkCallerTranscript
	mkResponseCreated
	mkResponseDone
	mkOutputItemDone
	mkTruncated
	mkError
)

func modelKindOf(t []byte) modelKind {
	switch string(t) {
	case "response.output_audio.delta", "response.audio.delta":
		return mkAudioDelta
	case "response.output_audio.done", "response.audio.done":
		return mkAudioDone
	case "response.output_audio_transcript.delta", "response.audio_transcript.delta":
		return mkAgentTranscriptDelta
	case "response.output_audio_transcript.done", "response.audio_transcript.done":
		return mkAgentTranscriptDone
	case "input_audio_buffer.speech_started":
		return mkSpeechStarted
	case "input_audio_buffer.speech_stopped":
		return mkSpeechStopped
	case "conversation.item.input_audio_transcription.completed":
		return mkCallerTranscript
	case "response.created":
		return mkResponseCreated
	case "response.done":
		return mkResponseDone
	case "response.output_item.done":
		return mkOutputItemDone
	case "conversation.item.truncated":
		return mkTruncated
	case "error":
		return mkError
	case "session.created", "session.updated":
		return mkSession
	}
	return mkIgnored
}

// modelEvent is one decoded server event. Byte slices point into the
// frame and are valid until the next read.
type modelEvent struct {
	Kind   modelKind
	ItemID []byte
	// Delta is the base64 audio of an audio delta or the text of a
	// transcript delta (still JSON-escaped when deltaEscaped).
	Delta        []byte
	deltaEscaped bool
	// Transcript is the full text of a transcript .done/.completed event.
	Transcript jsonValue
	// raw is the whole event, for the rare kinds decoded with encoding/json.
	raw []byte
}

var errNoType = errors.New("event has no type")

// decodeModel parses the top level of a server event into e (reused
// between frames). Audio deltas are fully decoded here without allocation;
// other kinds keep raw for a detailed decode by their handler.
func decodeModel(data []byte, e *modelEvent) error {
	*e = modelEvent{raw: data}
	seen := false
	err := scanObject(data, func(key []byte, v jsonValue) bool {
		switch string(key) {
		case "type":
			seen = v.str
			e.Kind = mkIgnored
			if v.str {
				e.Kind = modelKindOf(v.bytes())
			}
		case "item_id":
			e.ItemID = nil
			if v.str {
				e.ItemID = v.bytes()
			}
		case "delta":
			e.Delta, e.deltaEscaped = nil, false
			if v.str {
				e.Delta, e.deltaEscaped = v.raw, v.escaped
			}
		case "transcript":
			e.Transcript = v
		}
		return true
	})
	if err != nil {
		return err
	}
	if !seen {
		return errNoType
	}
	return nil
}

// deltaText returns a transcript delta as a string.
func (e *modelEvent) deltaText() string {
	return jsonValue{raw: e.Delta, str: true, escaped: e.deltaEscaped}.text()
}

// modelError is the error object of an error event.
type modelError struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	EventID string `json:"event_id"`
}

// modelItem is the part of a conversation item the relay reads.
type modelItem struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Name      string `json:"name"`
	CallID    string `json:"call_id"`
	Arguments string `json:"arguments"`
}

// modelUsage is a response's token usage, as response.done reports it.
type modelUsage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// modelDetail holds the fields of the rare events, decoded on demand.
type modelDetail struct {
	Error    modelError `json:"error"`
	Item     modelItem  `json:"item"`
	Response struct {
		ID     string      `json:"id"`
		Status string      `json:"status"`
		Output []modelItem `json:"output"`
		// Metadata is kept raw: a value of an unexpected type must not
		// make the whole event undecodable.
		Metadata json.RawMessage `json:"metadata"`
		Usage    modelUsage      `json:"usage"`
	} `json:"response"`
	AudioEndMs int64 `json:"audio_end_ms"`
}

func (e *modelEvent) detail() (modelDetail, error) {
	var d modelDetail
	err := json.Unmarshal(e.raw, &d)
	return d, err
}

// The goodbye's response.create carries response.metadata {metaKey:
// metaGoodbye}; the model echoes metadata in the response object.
const (
	metaKey     = "voiceagent"
	metaGoodbye = "goodbye"
)

// isGoodbye reports whether a response object's metadata tags it as the
// goodbye.
func isGoodbye(metadata json.RawMessage) bool {
	var m map[string]any
	if len(metadata) == 0 || json.Unmarshal(metadata, &m) != nil {
		return false
	}
	v, _ := m[metaKey].(string)
	return v == metaGoodbye
}

// Client events. input_audio_buffer.append is assembled by hand around the
// caller's base64 payload, which is forwarded byte for byte.

const (
	audioAppendHead = `{"type":"input_audio_buffer.append","audio":"`
	audioAppendTail = `"}`
)

// audioAppendLen is the length of the append event for a payload.
func audioAppendLen(payloadLen int) int {
	return len(audioAppendHead) + payloadLen + len(audioAppendTail)
}

// appendAudioAppend appends an input_audio_buffer.append event. payload
// must have passed checkPayload (plain base64), which keeps it valid JSON.
func appendAudioAppend(dst, payload []byte) []byte {
	dst = append(dst, audioAppendHead...)
	dst = append(dst, payload...)
	return append(dst, audioAppendTail...)
}

// appendTruncate appends a conversation.item.truncate event.
func appendTruncate(dst []byte, itemID string, audioEndMs int64) []byte {
	dst = append(dst, `{"type":"conversation.item.truncate","item_id":`...)
	dst = strconv.AppendQuote(dst, itemID)
	dst = append(dst, `,"content_index":0,"audio_end_ms":`...)
	dst = strconv.AppendInt(dst, audioEndMs, 10)
	return append(dst, '}')
}

type clientEvent struct {
	Type     string          `json:"type"`
	EventID  string          `json:"event_id,omitempty"`
	Item     any             `json:"item,omitempty"`
	Response *responseParams `json:"response,omitempty"`
	Session  any             `json:"session,omitempty"`
}

type responseParams struct {
	Instructions string            `json:"instructions,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

type userTextItem struct {
	Type    string        `json:"type"`
	Role    string        `json:"role"`
	Content []textContent `json:"content"`
}

type textContent struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type functionOutputItem struct {
	Type   string `json:"type"`
	CallID string `json:"call_id"`
	Output string `json:"output"`
}

func marshalEvent(ev clientEvent) []byte {
	b, err := json.Marshal(ev)
	if err != nil {
		// Only plain structs and strings are marshalled here.
		panic("relay: marshal client event: " + err.Error())
	}
	return b
}

// responseCreate asks the model to answer, optionally with instructions
// for this response only. eventID comes back as error.event_id if the
// model refuses it; a goodbye is tagged in response.metadata.
func responseCreate(eventID, instructions string, goodbye bool) []byte {
	ev := clientEvent{Type: "response.create", EventID: eventID}
	if instructions != "" || goodbye {
		ev.Response = &responseParams{Instructions: instructions}
	}
	if goodbye {
		ev.Response.Metadata = map[string]string{metaKey: metaGoodbye}
	}
	return marshalEvent(ev)
}

// userText adds a user text message to the conversation.
func userText(text string) []byte {
	return marshalEvent(clientEvent{Type: "conversation.item.create", Item: userTextItem{
		Type: "message", Role: "user", Content: []textContent{{Type: "input_text", Text: text}},
	}})
}

// functionOutput returns a tool result to the model.
func functionOutput(callID, output string) []byte {
	return marshalEvent(clientEvent{Type: "conversation.item.create", Item: functionOutputItem{
		Type: "function_call_output", CallID: callID, Output: output,
	}})
}
