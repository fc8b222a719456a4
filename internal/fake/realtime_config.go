package fake

import (
	"encoding/json"
	"fmt"
)

const gaSessionDefaults = `{
 "object":"realtime.session","type":"realtime","output_modalities":["audio"],"instructions":"",
 "audio":{
  "input":{"format":{"type":"audio/pcm","rate":24000},"transcription":null,"noise_reduction":null,
   "turn_detection":{"type":"server_vad","threshold":0.5,"prefix_padding_ms":300,"silence_duration_ms":200,
    "create_response":true,"interrupt_response":true,"idle_timeout_ms":null}},
  "output":{"format":{"type":"audio/pcm","rate":24000},"voice":"alloy","speed":1.0}},
 "tools":[],"tool_choice":"auto","max_output_tokens":"inf","tracing":null,"truncation":"auto"}`

const betaSessionDefaults = `{
 "object":"realtime.session","modalities":["text","audio"],"instructions":"","voice":"alloy",
 "input_audio_format":"pcm16","output_audio_format":"pcm16","input_audio_transcription":null,
 "turn_detection":{"type":"server_vad","threshold":0.5,"prefix_padding_ms":300,"silence_duration_ms":200,
  "create_response":true,"interrupt_response":true},
 "tools":[],"tool_choice":"auto","temperature":0.8,"max_response_output_tokens":"inf"}`

func defaultSessionConfig(beta bool, id, model string) map[string]any {
	src := gaSessionDefaults
	if beta {
		src = betaSessionDefaults
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(src), &m); err != nil {
		panic("fake: session defaults: " + err.Error())
	}
	m["id"] = id
	m["model"] = model
	return m
}

// mergeSession applies a session.update: objects that group settings
// (audio, input, output) merge key by key, everything else is replaced, and
// JSON null is kept (it disables e.g. turn_detection).
func mergeSession(dst, src map[string]any) {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok && (k == "audio" || k == "input" || k == "output") {
			if dv, ok := dst[k].(map[string]any); ok {
				mergeSession(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
}

// dig walks nested objects; it returns nil when a key is missing.
func dig(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[k]
	}
	return cur
}

// configError is a session.update the fake rejects.
type configError struct{ code, param, message string }

// validateSession checks what the relay must set (docs/protocols.md,
// "Realtime session.update": session type realtime, audio/pcmu both ways,
// server VAD, tools of type function) on the update itself (session.type)
// and on the merged result.
func validateSession(beta bool, update, merged map[string]any) *configError {
	want := func(got any, wantVal, param string) *configError {
		if got == wantVal {
			return nil
		}
		return &configError{"invalid_value", param,
			fmt.Sprintf("Invalid value for '%s': got %v, the fake requires '%s'.", param, jsonText(got), wantVal)}
	}
	var checks []*configError
	if beta {
		checks = []*configError{
			want(merged["input_audio_format"], "g711_ulaw", "session.input_audio_format"),
			want(merged["output_audio_format"], "g711_ulaw", "session.output_audio_format"),
			want(dig(merged, "turn_detection", "type"), "server_vad", "session.turn_detection.type"),
		}
	} else {
		t, present := update["type"]
		switch {
		case !present:
			return &configError{"missing_required_parameter", "session.type", "Missing required parameter: 'session.type'."}
		case t != "realtime":
			return &configError{"invalid_value", "session.type",
				fmt.Sprintf("Invalid value: %s. Supported values are: 'realtime' and 'transcription'.", jsonText(t))}
		}
		checks = []*configError{
			want(dig(merged, "audio", "input", "format", "type"), "audio/pcmu", "session.audio.input.format.type"),
			want(dig(merged, "audio", "output", "format", "type"), "audio/pcmu", "session.audio.output.format.type"),
			want(dig(merged, "audio", "input", "turn_detection", "type"), "server_vad", "session.audio.input.turn_detection.type"),
		}
	}
	for _, c := range checks {
		if c != nil {
			return c
		}
	}
	tools, _ := merged["tools"].([]any)
	for i, tool := range tools {
		if dig(map[string]any{"t": tool}, "t", "type") != "function" {
			return &configError{"invalid_value", fmt.Sprintf("session.tools[%d].type", i),
				fmt.Sprintf("Invalid value for 'session.tools[%d].type': the fake requires 'function'.", i)}
		}
	}
	return nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// turnDetection is the effective server VAD configuration.
type turnDetection struct {
	enabled         bool
	createResponse  bool
	interruptOnTalk bool
	silenceMs       int
}

func (s *RealtimeSession) turnDetectionLocked() turnDetection {
	var td map[string]any
	if s.rt.opts.Beta {
		td, _ = s.config["turn_detection"].(map[string]any)
	} else {
		td, _ = dig(s.config, "audio", "input", "turn_detection").(map[string]any)
	}
	if td == nil {
		return turnDetection{}
	}
	out := turnDetection{enabled: true, createResponse: true, interruptOnTalk: true, silenceMs: 500}
	if v, ok := td["create_response"].(bool); ok {
		out.createResponse = v
	}
	if v, ok := td["interrupt_response"].(bool); ok {
		out.interruptOnTalk = v
	}
	if v, ok := td["silence_duration_ms"].(float64); ok && v > 0 {
		out.silenceMs = int(v)
	}
	if s.rt.opts.SilenceMs > 0 {
		out.silenceMs = s.rt.opts.SilenceMs
	}
	return out
}
