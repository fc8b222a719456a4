package fake

import (
	"fmt"
	"strconv"
)

// vadState is the deterministic server VAD. Time is input-audio time:
// every 160 appended bytes advance it by 20 ms, whatever the wall clock.
type vadState struct {
	partial   []byte
	frames    int // whole frames seen
	run       int // consecutive speech frames while idle
	runStart  int // ms at which the current run began
	silenceMs int // silence while speaking
	speaking  bool
	itemID    string
}

func (s *RealtimeSession) vadFeedLocked(audio []byte) {
	v := &s.vad
	for len(audio) > 0 {
		if len(v.partial) == 0 && len(audio) >= FrameBytes {
			s.vadFrameLocked(audio[:FrameBytes])
			audio = audio[FrameBytes:]
			continue
		}
		n := min(FrameBytes-len(v.partial), len(audio))
		v.partial = append(v.partial, audio[:n]...)
		audio = audio[n:]
		if len(v.partial) == FrameBytes {
			s.vadFrameLocked(v.partial)
			v.partial = v.partial[:0]
		}
	}
}

func (s *RealtimeSession) vadFrameLocked(f []byte) {
	v := &s.vad
	startMs := v.frames * 20
	v.frames++
	td := s.turnDetectionLocked()
	if !td.enabled {
		return
	}
	speech := MeanAbs(f) > s.rt.opts.VADThreshold
	if !v.speaking {
		if !speech {
			v.run = 0
			return
		}
		if v.run == 0 {
			v.runStart = startMs
		}
		v.run++
		if v.run >= s.rt.opts.SpeechFrames {
			s.speechStartedLocked(v.runStart, td)
		}
		return
	}
	if speech {
		v.silenceMs = 0
		return
	}
	v.silenceMs += 20
	if v.silenceMs >= td.silenceMs {
		s.speechStoppedLocked(v.frames*20, td)
	}
}

func (s *RealtimeSession) speechStartedLocked(startMs int, td turnDetection) {
	v := &s.vad
	s.userSeq++
	v.speaking, v.run, v.silenceMs = true, 0, 0
	v.itemID = "item_user_" + strconv.Itoa(s.userSeq)
	s.emitLocked(map[string]any{"type": "input_audio_buffer.speech_started", "audio_start_ms": startMs, "item_id": v.itemID})
	if s.active != nil && td.interruptOnTalk {
		s.cancelActiveLocked("turn_detected")
	}
}

func (s *RealtimeSession) speechStoppedLocked(endMs int, td turnDetection) {
	v := &s.vad
	v.speaking, v.run, v.silenceMs = false, 0, 0
	s.emitLocked(map[string]any{"type": "input_audio_buffer.speech_stopped", "audio_end_ms": endMs, "item_id": v.itemID})
	s.commitUserTurnLocked(v.itemID)
	if td.createResponse && s.active == nil {
		s.startResponseLocked(responseParams{})
	}
}

// commitUserTurnLocked commits the input buffer as a user audio item and
// sends its scripted transcript.
func (s *RealtimeSession) commitUserTurnLocked(itemID string) {
	prev := any(nil)
	if s.lastItemID != "" {
		prev = s.lastItemID
	}
	s.uncommitted = 0
	s.emitLocked(map[string]any{"type": "input_audio_buffer.committed", "previous_item_id": prev, "item_id": itemID})
	s.addItemLocked(&convItem{id: itemID, kind: "message", role: "user"}, map[string]any{
		"id": itemID, "object": "realtime.item", "type": "message", "role": "user", "status": "completed",
		"content": []any{map[string]any{"type": "input_audio", "transcript": nil}},
	})
	transcript := fmt.Sprintf("User utterance %d.", s.userTurns+1)
	if ts := s.rt.opts.UserTranscripts; s.userTurns < len(ts) {
		transcript = ts[s.userTurns]
	}
	s.userTurns++
	s.emitLocked(map[string]any{"type": "conversation.item.input_audio_transcription.completed",
		"item_id": itemID, "content_index": 0, "transcript": transcript})
}

// ForceSpeechStarted makes the server VAD report that the caller started
// talking now (at the current input time), exactly as if it had detected it.
func (s *RealtimeSession) ForceSpeechStarted() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vad.speaking {
		return
	}
	td := s.turnDetectionLocked()
	td.interruptOnTalk = td.interruptOnTalk || !td.enabled
	s.speechStartedLocked(s.inputBytes/BytesPerMs, td)
}

// ForceSpeechStopped makes the server VAD report the end of speech now:
// speech_stopped, committed, the user item, its transcript and (unless
// create_response is false) a response.
func (s *RealtimeSession) ForceSpeechStopped() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.vad.speaking {
		return
	}
	td := s.turnDetectionLocked()
	if !td.enabled {
		td.createResponse = true
	}
	s.speechStoppedLocked(s.inputBytes/BytesPerMs, td)
}

// Speaking reports whether the VAD currently considers the caller talking.
func (s *RealtimeSession) Speaking() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.vad.speaking
}
