package fake

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
)

// Hostile behaviours: a compromised or misbehaving Realtime endpoint that
// speaks the wire protocol but ignores every reasonable size and rate. Each
// method starts a flood on its own goroutine (stopped when the session
// ends) and returns at once; Flooded counts the frames written so far.
// Frames are built once or from a small template, so the fake itself stays
// small however much it sends.

// Flooded returns how many hostile frames the session has queued.
func (s *RealtimeSession) Flooded() int64 { return s.flooded.Load() }

// flood queues frame(i) for i = 0..n-1 (n <= 0: until the session ends).
func (s *RealtimeSession) flood(n int, frame func(i int) []byte) {
	s.respWG.Add(1)
	go func() {
		defer s.respWG.Done()
		for i := 0; n <= 0 || i < n; i++ {
			select {
			case <-s.done:
				return
			case s.out <- outMsg{data: frame(i)}:
				s.flooded.Add(1)
			}
		}
	}()
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("fake: marshal hostile event: " + err.Error())
	}
	return b
}

// FloodTranscript sends n agent transcript deltas of textBytes each for
// one item that never completes (n <= 0: endless).
func (s *RealtimeSession) FloodTranscript(textBytes, n int) {
	frame := mustJSON(map[string]any{"type": s.names().transcriptDelta, "event_id": "event_hostile", "response_id": "resp_hostile",
		"item_id": "item_hostile", "output_index": 0, "content_index": 0, "delta": strings.Repeat("blah ", textBytes/5+1)[:textBytes]})
	s.flood(n, func(int) []byte { return frame })
}

// FloodItemIDs sends n audio deltas of one frame of audio each, every one
// for a new item whose id is idBytes long (n <= 0: endless).
func (s *RealtimeSession) FloodItemIDs(idBytes, n int) {
	pad := strings.Repeat("x", max(idBytes-12, 0))
	audio := base64.StdEncoding.EncodeToString(speechFrame)
	s.flood(n, func(i int) []byte {
		return mustJSON(audioDeltaEvent{Type: s.names().audioDelta, EventID: "event_hostile", ResponseID: "resp_hostile",
			ItemID: "item_" + strconv.Itoa(i) + "_" + pad, Delta: audio})
	})
}

// FloodAudio sends n audio deltas of audioBytes of mu-law each, for one
// item (n <= 0: endless), as fast as the client reads them.
func (s *RealtimeSession) FloodAudio(audioBytes, n int) {
	chunk := make([]byte, audioBytes)
	for off := 0; off < len(chunk); off += FrameBytes {
		copy(chunk[off:], speechFrame)
	}
	frame := mustJSON(audioDeltaEvent{Type: s.names().audioDelta, EventID: "event_hostile", ResponseID: "resp_hostile",
		ItemID: "item_hostile_audio", Delta: base64.StdEncoding.EncodeToString(chunk)})
	s.flood(n, func(int) []byte { return frame })
}

// ToolLoop sends n response.done events (n <= 0: endless), each with
// perResponse completed calls of the named function with fresh call_ids.
func (s *RealtimeSession) ToolLoop(name, args string, perResponse, n int) {
	s.flood(n, func(i int) []byte {
		out := make([]map[string]any, perResponse)
		s.mu.Lock()
		for k := range out {
			id := strconv.Itoa(i*perResponse + k)
			out[k] = map[string]any{"id": "item_loop_" + id, "type": "function_call", "status": "completed",
				"name": name, "call_id": "call_loop_" + id, "arguments": args}
			s.calls["call_loop_"+id] = name // so its output is accepted
		}
		s.mu.Unlock()
		return mustJSON(map[string]any{"type": "response.done", "event_id": "event_hostile",
			"response": map[string]any{"id": "resp_loop_" + strconv.Itoa(i), "status": "completed", "output": out}})
	})
}

// FloodErrors sends n error events whose code is codeBytes long (n <= 0:
// endless).
func (s *RealtimeSession) FloodErrors(codeBytes, n int) {
	frame := mustJSON(map[string]any{"type": "error", "event_id": "event_hostile", "error": map[string]any{
		"type": "server_error", "code": strings.Repeat("E", codeBytes), "message": "hostile error", "event_id": nil}})
	s.flood(n, func(int) []byte { return frame })
}

// CallerTranscript sends a completed input transcription with text as
// it is (NUL, invalid UTF-8 escapes, bidi controls: whatever the test
// wants the client to cope with).
func (s *RealtimeSession) CallerTranscript(itemID, text string) {
	s.SendEvent(map[string]any{"type": "conversation.item.input_audio_transcription.completed",
		"item_id": itemID, "content_index": 0, "transcript": text})
}

// FloodCallerTranscripts sends n completed input transcriptions of
// textBytes each, every one for a new item (n <= 0: endless).
func (s *RealtimeSession) FloodCallerTranscripts(textBytes, n int) {
	text := strings.Repeat("blah ", textBytes/5+1)[:textBytes]
	s.flood(n, func(i int) []byte {
		return mustJSON(map[string]any{"type": "conversation.item.input_audio_transcription.completed", "event_id": "event_hostile",
			"item_id": "item_said_" + strconv.Itoa(i), "content_index": 0, "transcript": text})
	})
}
