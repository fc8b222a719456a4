package relay

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeTwilio feeds arbitrary frames to the Twilio message decoder:
// it must never panic, must accept every well-formed JSON object, and must
// agree with encoding/json on the fields the relay uses.
func FuzzDecodeTwilio(f *testing.F) {
	f.Add([]byte(`{"event":"media","sequenceNumber":"4","streamSid":"MZ0123","media":{"track":"inbound","chunk":"2","timestamp":"40","payload":"/w=="}}`))
	f.Add([]byte(`{"event":"start","streamSid":"MZ1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"customParameters":{"a":"b"},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}`))
	f.Add([]byte(`{"event":"mark","streamSid":"MZ1","mark":{"name":"m12"}}`))
	f.Add([]byte(`{"event":"dtmf","streamSid":"MZ1","dtmf":{"track":"inbound_track","digit":"5"}}`))
	f.Add([]byte(`{"event":"media","media":{"timestamp":12.5,"payload":"a\/b="}}`))
	f.Add([]byte(`{"event":"stop"}`))
	f.Add([]byte(`[{"event":"media"}]`))
	f.Add([]byte(`{"event":"media","media":{"payload":"AAAA"}`))
	f.Add([]byte(`{"event":"media","media":{"payload":"/w==\n"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m twilioMsg
		err := decodeTwilio(data, &m)
		// A payload the relay accepts is forwarded verbatim inside the
		// append event's JSON string: it must keep that event valid JSON.
		if err == nil && m.Event == twMedia {
			if _, perr := checkPayload(m.Payload); perr == nil {
				if ev := appendAudioAppend(nil, m.Payload); !json.Valid(ev) {
					t.Fatalf("payload %q accepted, but its append event is not valid JSON: %q", m.Payload, ev)
				}
				for _, c := range m.Payload {
					if !isBase64Char(c) {
						t.Fatalf("payload %q accepted with a non-base64 byte %q", m.Payload, c)
					}
				}
			}
		}
		var ref struct {
			Event     string `json:"event"`
			StreamSID string `json:"streamSid"`
			Media     *struct {
				Payload string `json:"payload"`
			} `json:"media"`
		}
		isObject := json.Valid(data) && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{"))
		shallow := bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")) <= maxDepth
		if isObject && shallow && scanObject(data, func([]byte, jsonValue) bool { return true }) != nil {
			t.Fatalf("scanner refused valid JSON %q", data)
		}
		// encoding/json replaces invalid UTF-8; the decoder keeps bytes as
		// sent (a bad payload then fails base64), so compare only UTF-8.
		if err != nil || !isObject || !utf8.Valid(data) || json.Unmarshal(data, &ref) != nil {
			return
		}
		if m.Event == twMedia {
			if ref.Event != "media" || ref.Media == nil || string(m.Payload) != ref.Media.Payload {
				t.Fatalf("media decoded as %q / %q, encoding/json says %+v", m.Event, m.Payload, ref)
			}
		}
		if m.StreamSID != nil && m.Event != twStart && string(m.StreamSID) != ref.StreamSID {
			t.Fatalf("streamSid %q, encoding/json says %q", m.StreamSID, ref.StreamSID)
		}
	})
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}

// FuzzDecodeModel feeds arbitrary frames to the Realtime event decoder and
// checks it against encoding/json on the hot-path fields.
func FuzzDecodeModel(f *testing.F) {
	f.Add([]byte(`{"type":"response.output_audio.delta","event_id":"e1","response_id":"r1","item_id":"item_1","output_index":0,"content_index":0,"delta":"/////w=="}`))
	f.Add([]byte(`{"type":"response.audio.delta","item_id":"item_1","delta":"AAAA"}`))
	f.Add([]byte(`{"type":"response.output_audio_transcript.delta","item_id":"i","delta":"caf\u00e9 \"quoted\""}`))
	f.Add([]byte(`{"type":"conversation.item.input_audio_transcription.completed","item_id":"i","transcript":"hello"}`))
	f.Add([]byte(`{"type":"error","error":{"type":"invalid_request_error","code":"session_expired","message":"m"}}`))
	f.Add([]byte(`{"type":"response.done","response":{"id":"r","status":"completed","output":[{"type":"function_call","call_id":"c","name":"end_call","arguments":"{}"}]}}`))
	f.Add([]byte(`{"type":"session.created","session":{"type":"realtime","audio":{}}}`))
	f.Add([]byte(`{"type":`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var e modelEvent
		err := decodeModel(data, &e)
		_ = isBetaSession(data)
		if err != nil {
			return
		}
		_, _ = e.detail()
		_ = e.deltaText()
		_ = e.Transcript.text()
		var ref struct {
			Type   string `json:"type"`
			ItemID string `json:"item_id"`
			Delta  string `json:"delta"`
		}
		if !json.Valid(data) || !utf8.Valid(data) || json.Unmarshal(data, &ref) != nil {
			return
		}
		if e.Kind != modelKindOf([]byte(ref.Type)) {
			t.Fatalf("kind %d for type %q", e.Kind, ref.Type)
		}
		if e.Kind == mkAudioDelta && !e.deltaEscaped && string(e.Delta) != ref.Delta {
			t.Fatalf("delta %q, encoding/json says %q", e.Delta, ref.Delta)
		}
		if e.ItemID != nil && string(e.ItemID) != ref.ItemID {
			t.Fatalf("item_id %q, encoding/json says %q", e.ItemID, ref.ItemID)
		}
	})
}
