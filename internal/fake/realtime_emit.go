package fake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// audioDeltaEvent is encoded without a map: it is the hot path of a response.
type audioDeltaEvent struct {
	Type         string `json:"type"`
	EventID      string `json:"event_id"`
	ResponseID   string `json:"response_id"`
	ItemID       string `json:"item_id"`
	OutputIndex  int    `json:"output_index"`
	ContentIndex int    `json:"content_index"`
	Delta        string `json:"delta"`
}

// audioChunkLocked returns a new chunk of assistant audio: probe frames
// numbered per session when ProbeAudio is set, else a tone.
func (s *RealtimeSession) audioChunkLocked() []byte {
	c := make([]byte, s.rt.opts.ChunkBytes)
	for off := 0; off < len(c); off += FrameBytes {
		f := c[off:min(off+FrameBytes, len(c))]
		if s.rt.opts.ProbeAudio && len(f) == FrameBytes {
			s.probeSeq++
			PutProbeFrame(f, s.probeSeq)
			continue
		}
		copy(f, speechFrame)
	}
	return c
}

// sendAudioDeltaLocked sends one audio delta; count adds it to the item's
// generated audio (late fault-injection deltas are not counted).
func (s *RealtimeSession) sendAudioDeltaLocked(ar *activeResponse, itemID string, outputIndex int, chunk []byte, count bool) {
	if count {
		if it := s.items[itemID]; it != nil {
			it.audioBytes += len(chunk)
		}
		ar.rec.AudioBytes += len(chunk)
	}
	s.eventSeq++
	data, err := json.Marshal(audioDeltaEvent{
		Type: s.names().audioDelta, EventID: "event_" + strconv.Itoa(s.eventSeq),
		ResponseID: ar.rec.ID, ItemID: itemID, OutputIndex: outputIndex,
		Delta: base64.StdEncoding.EncodeToString(chunk),
	})
	if err != nil {
		panic("fake: marshal audio delta: " + err.Error())
	}
	s.enqueue(outMsg{data: data, audio: chunk})
}

// splitText cuts t into n pieces at rune boundaries; joined, they give t.
func splitText(t string, n int) []string {
	r := []rune(t)
	out := make([]string, n)
	for i := range n {
		out[i] = string(r[i*len(r)/n : (i+1)*len(r)/n])
	}
	return out
}

func (s *RealtimeSession) chunkInterval() time.Duration {
	if d := s.rt.opts.ChunkInterval; d > 0 {
		return d
	}
	if s.rt.opts.Paced {
		return time.Duration(s.rt.opts.ChunkBytes/BytesPerMs) * time.Millisecond
	}
	return 0
}

// runAudio emits the items of an audio response; it stops as soon as the
// response is cancelled (the canceller sends response.done).
func (s *RealtimeSession) runAudio(ar *activeResponse, script ScriptedResponse) {
	names := s.names()
	interval := s.chunkInterval()
	var timer *time.Timer
	if interval > 0 {
		timer = time.NewTimer(time.Hour)
		timer.Stop()
		defer timer.Stop()
	}
	for idx := range script.Items {
		transcript := script.Transcript
		if idx > 0 {
			transcript = fmt.Sprintf("Part %d.", idx+1)
		}
		pieces := splitText(transcript, script.Chunks)
		s.mu.Lock()
		if ar.cancelled {
			s.mu.Unlock()
			return
		}
		s.asstSeq++
		itemID := "item_asst_" + strconv.Itoa(s.asstSeq)
		item := map[string]any{"id": itemID, "object": "realtime.item", "type": "message", "role": "assistant",
			"status": "in_progress", "content": []any{}}
		ar.items = append(ar.items, item)
		ar.rec.ItemIDs = append(ar.rec.ItemIDs, itemID)
		ids := map[string]any{"response_id": ar.rec.ID, "item_id": itemID, "output_index": idx, "content_index": 0}
		s.emitLocked(map[string]any{"type": "response.output_item.added", "response_id": ar.rec.ID, "output_index": idx, "item": item})
		s.addItemLocked(&convItem{id: itemID, kind: "message", role: "assistant"}, item)
		s.emitLocked(with(ids, "type", "response.content_part.added", "part", map[string]any{"type": names.partType, "transcript": ""}))
		s.mu.Unlock()

		for c := range script.Chunks {
			if c > 0 && !s.pause(ar, timer, interval) {
				return
			}
			s.mu.Lock()
			if ar.cancelled {
				s.mu.Unlock()
				return
			}
			s.sendAudioDeltaLocked(ar, itemID, idx, s.audioChunkLocked(), true)
			if pieces[c] != "" {
				s.emitLocked(with(ids, "type", names.transcriptDelta, "delta", pieces[c]))
			}
			s.mu.Unlock()
		}

		s.mu.Lock()
		if ar.cancelled {
			s.mu.Unlock()
			return
		}
		part := map[string]any{"type": names.partType, "transcript": transcript}
		s.emitLocked(with(ids, "type", names.audioDone))
		s.emitLocked(with(ids, "type", names.transcriptDone, "transcript", transcript))
		s.emitLocked(with(ids, "type", "response.content_part.done", "part", part))
		item["status"], item["content"] = "completed", []any{part}
		s.emitLocked(map[string]any{"type": "response.output_item.done", "response_id": ar.rec.ID, "output_index": idx, "item": item})
		if !s.rt.opts.Beta {
			s.emitLocked(map[string]any{"type": "conversation.item.done", "item": item})
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	if !ar.cancelled {
		s.finishLocked(ar)
	}
	s.mu.Unlock()
}

// runToolCall emits the function-call flow (docs/protocols.md, "Function
// calls"): output_item.added, arguments delta and done, output_item.done
// with the completed call, response.done; the output then waits for the
// relay's function_call_output.
func (s *RealtimeSession) runToolCall(ar *activeResponse, tool ToolCall) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ar.cancelled {
		return
	}
	s.callSeq++
	callID := "call_" + strconv.Itoa(s.callSeq)
	itemID := "item_call_" + strconv.Itoa(s.callSeq)
	item := map[string]any{"id": itemID, "object": "realtime.item", "type": "function_call", "status": "in_progress",
		"name": tool.Name, "call_id": callID, "arguments": ""}
	ar.items = append(ar.items, item)
	ar.rec.ItemIDs = append(ar.rec.ItemIDs, itemID)
	ar.rec.CallID = callID
	s.calls[callID] = tool.Name
	s.emitLocked(map[string]any{"type": "response.output_item.added", "response_id": ar.rec.ID, "output_index": 0, "item": item})
	s.addItemLocked(&convItem{id: itemID, kind: "function_call"}, item)
	ids := map[string]any{"response_id": ar.rec.ID, "item_id": itemID, "output_index": 0, "call_id": callID}
	for _, piece := range splitText(tool.Arguments, 2) {
		if piece != "" {
			s.emitLocked(with(ids, "type", "response.function_call_arguments.delta", "delta", piece))
		}
	}
	s.emitLocked(with(ids, "type", "response.function_call_arguments.done", "name", tool.Name, "arguments", tool.Arguments))
	item["status"], item["arguments"] = "completed", tool.Arguments
	s.emitLocked(map[string]any{"type": "response.output_item.done", "response_id": ar.rec.ID, "output_index": 0, "item": item})
	if !s.rt.opts.Beta {
		s.emitLocked(map[string]any{"type": "conversation.item.done", "item": item})
	}
	s.finishLocked(ar)
}

// with returns a copy of base with the key/value pairs kv added.
func with(base map[string]any, kv ...any) map[string]any {
	m := make(map[string]any, len(base)+len(kv)/2+1)
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}
