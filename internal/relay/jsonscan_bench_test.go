package relay

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// The scanner is kept on the per-frame path only while it beats
// encoding/json there; these pairs measure both on the same messages
// (BENCHMARKS.md, "JSON scanner").

func twilioMediaFrame() []byte {
	payload := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\xff", FrameBytes)))
	return []byte(`{"event":"media","sequenceNumber":"4","streamSid":"MZ00000000000000000000000000000001","media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"` + payload + `"}}`)
}

func modelAudioDelta() []byte {
	payload := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\x7f", 4*FrameBytes)))
	return []byte(`{"type":"response.output_audio.delta","event_id":"event_0001","response_id":"resp_0001","item_id":"item_0001","output_index":0,"content_index":0,"delta":"` + payload + `"}`)
}

// stdTwilioMedia is what encoding/json would decode a media frame into:
// the fields decodeTwilio reads.
type stdTwilioMedia struct {
	Event     string `json:"event"`
	StreamSID string `json:"streamSid"`
	Media     struct {
		Track     string `json:"track"`
		Timestamp string `json:"timestamp"`
		Payload   string `json:"payload"`
	} `json:"media"`
}

func BenchmarkScanTwilioMedia(b *testing.B) {
	msg := twilioMediaFrame()
	var m twilioMsg
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeTwilio(msg, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStdlibTwilioMedia(b *testing.B) {
	msg := twilioMediaFrame()
	b.ReportAllocs()
	for b.Loop() {
		var m stdTwilioMedia
		if err := json.Unmarshal(msg, &m); err != nil || m.Media.Payload == "" {
			b.Fatal(err)
		}
	}
}

// stdModelDelta is the fields decodeModel reads from an audio delta.
type stdModelDelta struct {
	Type   string `json:"type"`
	ItemID string `json:"item_id"`
	Delta  string `json:"delta"`
}

func BenchmarkScanModelDelta(b *testing.B) {
	msg := modelAudioDelta()
	var e modelEvent
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeModel(msg, &e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStdlibModelDelta(b *testing.B) {
	msg := modelAudioDelta()
	b.ReportAllocs()
	for b.Loop() {
		var e stdModelDelta
		if err := json.Unmarshal(msg, &e); err != nil || e.Delta == "" {
			b.Fatal(err)
		}
	}
}
