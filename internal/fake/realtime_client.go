package fake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// clientMsg holds the fields of every client event the fake understands;
// one is reused by the session reader.
type clientMsg struct {
	Type         string          `json:"type"`
	EventID      string          `json:"event_id"`
	Audio        string          `json:"audio"`
	ItemID       string          `json:"item_id"`
	ContentIndex int             `json:"content_index"`
	AudioEndMs   *int            `json:"audio_end_ms"`
	ResponseID   string          `json:"response_id"`
	Session      json.RawMessage `json:"session"`
	Item         json.RawMessage `json:"item"`
	Response     json.RawMessage `json:"response"`
}

// responseParams is the part of response.create's "response" the fake
// honours: it records both and echoes metadata in the response object, as
// the GA API does.
type responseParams struct {
	Instructions string            `json:"instructions"`
	Metadata     map[string]string `json:"metadata"`
}

type clientItem struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Role   string `json:"role"`
	CallID string `json:"call_id"`
	Output string `json:"output"`
}

// handle processes one client frame; only the reader goroutine calls it.
func (s *RealtimeSession) handle(raw []byte, at time.Time) {
	m := &s.msg
	*m = clientMsg{}
	if err := json.Unmarshal(raw, m); err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.events = append(s.events, ClientEvent{At: at, Raw: append(json.RawMessage(nil), raw...)})
		s.errorLocked("invalid_json", "", "We could not parse the JSON body of your request.", "")
		return
	}
	var audio []byte
	if m.Type == "input_audio_buffer.append" {
		n := base64.StdEncoding.DecodedLen(len(m.Audio))
		if cap(s.audioBuf) < n {
			s.audioBuf = make([]byte, n)
		}
		s.b64Buf = append(s.b64Buf[:0], m.Audio...)
		n, err := base64.StdEncoding.Decode(s.audioBuf[:n], s.b64Buf)
		if err != nil {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.recordLocked(m, raw, at)
			s.errorLocked("invalid_value", "audio", "Invalid 'audio'. Expected base64-encoded audio bytes.", m.EventID)
			return
		}
		audio = s.audioBuf[:n]
		if cb := s.rt.opts.OnAudioAppended; cb != nil {
			cb(s, audio, at)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordLocked(m, raw, at)
	switch m.Type {
	case "session.update":
		s.onSessionUpdateLocked(m)
	case "input_audio_buffer.append":
		s.onAppendLocked(audio)
	case "input_audio_buffer.commit":
		s.onCommitLocked(m)
	case "input_audio_buffer.clear":
		s.uncommitted = 0
		s.emitLocked(map[string]any{"type": "input_audio_buffer.cleared"})
	case "conversation.item.create":
		s.onItemCreateLocked(m)
	case "conversation.item.truncate":
		s.onTruncateLocked(m, at)
	case "conversation.item.delete":
		delete(s.items, m.ItemID)
		s.emitLocked(map[string]any{"type": "conversation.item.deleted", "item_id": m.ItemID})
	case "response.create":
		var p responseParams
		if len(m.Response) > 0 && string(m.Response) != "null" && json.Unmarshal(m.Response, &p) != nil {
			s.errorLocked("invalid_type", "response", "Invalid type for 'response': expected an object.", m.EventID)
			return
		}
		if fail, ok := s.rt.popCreateFail(); ok {
			s.errorLocked(fail.Code, "", fail.Message, m.EventID)
			return
		}
		if s.active != nil {
			s.errorLocked("conversation_already_has_active_response", "",
				fmt.Sprintf("Conversation already has an active response in progress: %s. Wait until the response is finished before creating a new one.", s.active.rec.ID),
				m.EventID)
			return
		}
		s.startResponseLocked(p)
	case "response.cancel":
		if s.active == nil || (m.ResponseID != "" && m.ResponseID != s.active.rec.ID) {
			s.errorLocked("response_cancel_not_active", "", "Cancellation failed: no active response found", m.EventID)
			return
		}
		s.cancelActiveLocked("client_cancelled")
	default:
		s.errorLocked("invalid_value", "type",
			fmt.Sprintf("Invalid value: '%s'. Supported values are: 'session.update', 'input_audio_buffer.append', 'input_audio_buffer.commit', 'input_audio_buffer.clear', 'conversation.item.create', 'conversation.item.truncate', 'conversation.item.delete', 'response.create', and 'response.cancel'.", m.Type),
			m.EventID)
	}
}

func (s *RealtimeSession) recordLocked(m *clientMsg, raw []byte, at time.Time) {
	if m.Type == "input_audio_buffer.append" && s.rt.opts.DiscardAudio {
		return // counted by AppendCount; a load test must not grow per frame
	}
	s.events = append(s.events, ClientEvent{Type: m.Type, EventID: m.EventID, At: at, Raw: append(json.RawMessage(nil), raw...)})
}

func (s *RealtimeSession) onSessionUpdateLocked(m *clientMsg) {
	s.updates = append(s.updates, append(json.RawMessage(nil), m.Session...))
	var upd map[string]any
	if err := json.Unmarshal(m.Session, &upd); err != nil || upd == nil {
		s.errorLocked("invalid_type", "session", "Invalid type for 'session': expected an object.", m.EventID)
		return
	}
	// Validate a merged copy so a rejected update changes nothing.
	var merged map[string]any
	b, _ := json.Marshal(s.config)
	_ = json.Unmarshal(b, &merged)
	mergeSession(merged, upd)
	if e := validateSession(s.rt.opts.Beta, upd, merged); e != nil {
		s.errorLocked(e.code, e.param, e.message, m.EventID)
		return
	}
	merged["id"], merged["model"] = s.ID, s.Model
	s.config = merged
	s.emitLocked(map[string]any{"type": "session.updated", "session": s.config})
}

func (s *RealtimeSession) onAppendLocked(audio []byte) {
	s.appendCount++
	s.inputBytes += len(audio)
	s.uncommitted += len(audio)
	if !s.rt.opts.DiscardAudio {
		s.appended = append(s.appended, append([]byte(nil), audio...))
	}
	s.vadFeedLocked(audio)
}

func (s *RealtimeSession) onCommitLocked(m *clientMsg) {
	if ms := s.uncommitted / BytesPerMs; ms < 100 {
		s.errorLocked("input_audio_buffer_commit_empty", "",
			fmt.Sprintf("Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has %d.00ms of audio.", ms),
			m.EventID)
		return
	}
	s.userSeq++
	s.commitUserTurnLocked("item_user_" + strconv.Itoa(s.userSeq))
}

func (s *RealtimeSession) onItemCreateLocked(m *clientMsg) {
	var it clientItem
	if err := json.Unmarshal(m.Item, &it); err != nil || it.Type == "" {
		s.errorLocked("invalid_value", "item", "Invalid 'item': expected an object with a 'type'.", m.EventID)
		return
	}
	if it.Type == "function_call_output" {
		if _, ok := s.calls[it.CallID]; !ok {
			s.errorLocked("invalid_value", "item.call_id",
				fmt.Sprintf("Tool call ID '%s' not found in conversation.", it.CallID), m.EventID)
			return
		}
		s.outputs = append(s.outputs, FunctionOutput{CallID: it.CallID, Output: it.Output, At: time.Now()})
		s.toolOutputs = append(s.toolOutputs, it.Output)
	}
	if it.ID == "" {
		s.extSeq++
		it.ID = "item_client_" + strconv.Itoa(s.extSeq)
	}
	var item map[string]any
	_ = json.Unmarshal(m.Item, &item)
	item["id"], item["object"], item["status"] = it.ID, "realtime.item", "completed"
	s.addItemLocked(&convItem{id: it.ID, kind: it.Type, role: it.Role}, item)
	if it.Type == "function_call_output" && s.rt.opts.RespondToToolOutput && s.active == nil {
		s.startResponseLocked(responseParams{})
	}
}

// addItemLocked records an item and announces it with the mode's names.
func (s *RealtimeSession) addItemLocked(ci *convItem, item map[string]any) {
	prev := any(nil)
	if s.lastItemID != "" {
		prev = s.lastItemID
	}
	s.items[ci.id] = ci
	s.lastItemID = ci.id
	if s.rt.opts.Beta {
		s.emitLocked(map[string]any{"type": "conversation.item.created", "previous_item_id": prev, "item": item})
		return
	}
	s.emitLocked(map[string]any{"type": "conversation.item.added", "previous_item_id": prev, "item": item})
	if item["status"] == "completed" {
		s.emitLocked(map[string]any{"type": "conversation.item.done", "previous_item_id": prev, "item": item})
	}
}

func (s *RealtimeSession) onTruncateLocked(m *clientMsg, at time.Time) {
	it := s.items[m.ItemID]
	switch {
	case it == nil:
		s.errorLocked("invalid_value", "item_id",
			fmt.Sprintf("Conversation item with id '%s' not found.", m.ItemID), m.EventID)
	case it.kind != "message" || it.role != "assistant":
		s.errorLocked("invalid_value", "item_id", "Only assistant messages can be truncated.", m.EventID)
	case m.ContentIndex != 0:
		s.errorLocked("invalid_value", "content_index",
			fmt.Sprintf("Invalid 'content_index': %d. The item has audio only at content index 0.", m.ContentIndex), m.EventID)
	case m.AudioEndMs == nil:
		s.errorLocked("missing_required_parameter", "audio_end_ms", "Missing required parameter: 'audio_end_ms'.", m.EventID)
	case *m.AudioEndMs < 0:
		s.errorLocked("invalid_value", "audio_end_ms", "Invalid 'audio_end_ms': must be non-negative.", m.EventID)
	case *m.AudioEndMs > it.audioBytes/BytesPerMs:
		s.errorLocked("invalid_value", "audio_end_ms",
			fmt.Sprintf("Audio content of %dms is already shorter than %dms", it.audioBytes/BytesPerMs, *m.AudioEndMs), m.EventID)
	default:
		s.truncates = append(s.truncates, Truncate{ItemID: it.id, ContentIndex: 0, AudioEndMs: *m.AudioEndMs,
			GeneratedMs: it.audioBytes / BytesPerMs, At: at})
		s.emitLocked(map[string]any{"type": "conversation.item.truncated", "item_id": it.id,
			"content_index": 0, "audio_end_ms": *m.AudioEndMs})
	}
}
