package fake

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// activeResponse is the one response a session may have in progress.
type activeResponse struct {
	rec       *ResponseRecord
	cancel    chan struct{}
	cancelled bool
	items     []map[string]any // output items so far, for response.done
}

// eventNames holds the names that differ between GA and beta.
type eventNames struct {
	audioDelta, audioDone, transcriptDelta, transcriptDone, partType string
}

var (
	gaNames   = eventNames{"response.output_audio.delta", "response.output_audio.done", "response.output_audio_transcript.delta", "response.output_audio_transcript.done", "output_audio"}
	betaNames = eventNames{"response.audio.delta", "response.audio.done", "response.audio_transcript.delta", "response.audio_transcript.done", "audio"}
)

func (s *RealtimeSession) names() eventNames {
	if s.rt.opts.Beta {
		return betaNames
	}
	return gaNames
}

// NextResponseCallsTool makes this session's next response a call of the
// named function with the given JSON arguments instead of audio.
func (s *RealtimeSession) NextResponseCallsTool(name, argsJSON string) {
	s.mu.Lock()
	s.tools = append(s.tools, ToolCall{Name: name, Arguments: argsJSON})
	s.mu.Unlock()
}

// ScriptNextResponse scripts this session's next audio response, ahead of
// RealtimeOptions.Responses.
func (s *RealtimeSession) ScriptNextResponse(r ScriptedResponse) {
	s.mu.Lock()
	s.scripts = append(s.scripts, r)
	s.mu.Unlock()
}

// StartResponse starts a response as if the server had decided to answer;
// it returns false if one is already active.
func (s *RealtimeSession) StartResponse() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active != nil {
		return false
	}
	s.startResponseLocked(responseParams{})
	return true
}

// startResponseLocked creates a response (audio or a scripted tool call)
// with the client's parameters (none for a server-started one) and runs it
// on its own goroutine.
func (s *RealtimeSession) startResponseLocked(p responseParams) {
	s.respSeq++
	rec := &ResponseRecord{ID: "resp_" + strconv.Itoa(s.respSeq), Status: "in_progress", CreatedAt: time.Now(),
		Instructions: p.Instructions, Metadata: p.Metadata}
	tool, isTool := ToolCall{}, false
	if len(s.tools) > 0 {
		tool, isTool = s.tools[0], true
		s.tools = s.tools[1:]
	} else {
		tool, isTool = s.rt.popTool()
	}
	script := ScriptedResponse{}
	if isTool {
		rec.Tool = &tool
	} else {
		switch {
		case len(s.scripts) > 0:
			script = s.scripts[0]
			s.scripts = s.scripts[1:]
		case s.audioResps < len(s.rt.opts.Responses):
			script = s.rt.opts.Responses[s.audioResps]
		}
		s.audioResps++
		if script.Transcript == "" {
			script.Transcript = fmt.Sprintf("Assistant response %d.", s.audioResps)
		}
		if len(s.toolOutputs) > 0 {
			script.Transcript = "Tool result: " + strings.Join(s.toolOutputs, "; ")
			s.toolOutputs = nil
		}
		if script.Chunks <= 0 {
			script.Chunks = s.rt.opts.Chunks
		}
		script.Items = max(script.Items, 1)
		rec.Transcript = script.Transcript
	}
	s.responses = append(s.responses, rec)
	ar := &activeResponse{rec: rec, cancel: make(chan struct{})}
	s.active = ar
	s.emitLocked(map[string]any{"type": "response.created", "response": s.responseObject(ar)})
	s.respWG.Add(1)
	go func() {
		defer s.respWG.Done()
		if !s.pause(ar, nil, s.rt.opts.ResponseDelay) {
			return
		}
		if isTool {
			s.runToolCall(ar, tool)
		} else {
			s.runAudio(ar, script)
		}
		s.rt.changed.notify()
	}()
}

func (s *RealtimeSession) responseObject(ar *activeResponse) map[string]any {
	out := make([]any, len(ar.items))
	for i, it := range ar.items {
		out[i] = it
	}
	r := map[string]any{"id": ar.rec.ID, "object": "realtime.response", "status": ar.rec.Status,
		"status_details": nil, "output": out, "metadata": nil}
	if ar.rec.Metadata != nil {
		r["metadata"] = ar.rec.Metadata
	}
	if ar.rec.Status == "cancelled" {
		r["status_details"] = map[string]any{"type": "cancelled", "reason": ar.rec.StatusReason}
	}
	if ar.rec.Status == "completed" || ar.rec.Status == "cancelled" {
		in, out := s.rt.opts.InputTokens, s.rt.opts.OutputTokens
		r["usage"] = map[string]any{"total_tokens": in + out, "input_tokens": in, "output_tokens": out}
	}
	return r
}

// pause waits d (if positive) unless the response is cancelled or the
// session ends; t is reused when non-nil.
func (s *RealtimeSession) pause(ar *activeResponse, t *time.Timer, d time.Duration) bool {
	if d <= 0 {
		select {
		case <-ar.cancel:
			return false
		case <-s.done:
			return false
		default:
			return true
		}
	}
	if t == nil {
		t = time.NewTimer(d)
		defer t.Stop()
	} else {
		t.Reset(d)
	}
	select {
	case <-t.C:
		return true
	case <-ar.cancel:
		return false
	case <-s.done:
		return false
	}
}

// cancelActiveLocked ends the active response with status cancelled and,
// as fault injection, sends late deltas for its last item.
func (s *RealtimeSession) cancelActiveLocked(reason string) {
	ar := s.active
	if ar == nil {
		return
	}
	s.active = nil
	ar.cancelled = true
	close(ar.cancel)
	ar.rec.Status, ar.rec.StatusReason, ar.rec.DoneAt = "cancelled", reason, time.Now()
	for _, it := range ar.items {
		if it["status"] == "in_progress" {
			it["status"] = "incomplete"
		}
	}
	s.emitLocked(map[string]any{"type": "response.done", "response": s.responseObject(ar)})
	if n := s.rt.opts.LateDeltasAfterCancel; n > 0 && len(ar.rec.ItemIDs) > 0 {
		itemID := ar.rec.ItemIDs[len(ar.rec.ItemIDs)-1]
		if it := s.items[itemID]; it != nil && it.kind == "message" {
			for range n {
				s.sendAudioDeltaLocked(ar, itemID, len(ar.rec.ItemIDs)-1, s.audioChunkLocked(), false)
			}
		}
	}
}

// finishLocked completes the active response.
func (s *RealtimeSession) finishLocked(ar *activeResponse) {
	ar.rec.Status, ar.rec.DoneAt = "completed", time.Now()
	s.active = nil
	s.emitLocked(map[string]any{"type": "response.done", "response": s.responseObject(ar)})
}
