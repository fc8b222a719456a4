package relay

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/fake"
)

func TestMediaPayloadMustBePlainBase64(t *testing.T) {
	cases := []struct {
		name, payload string // payload as written inside the JSON string
		ok            bool
	}{
		{"plain", `/w==`, true},
		{"a frame", strings.Repeat("////", 54), true},
		{"escaped newline", `/w==\n`, false},
		{"escaped carriage return", `/w\r==`, false},
		{"escaped slash", `\/w==`, false},
		{"unicode escape", `\u002fw==`, false},
		{"raw newline", "/w==\n", false},
		{"raw carriage return", "/w\r==", false},
		{"space", `/w ==`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m twilioMsg
			frame := []byte(`{"event":"media","streamSid":"MZ1","media":{"payload":"` + tc.payload + `"}}`)
			err := decodeTwilio(frame, &m)
			if err == nil {
				_, err = checkPayload(m.Payload)
			}
			if got := err == nil; got != tc.ok {
				t.Fatalf("accepted = %v (err %v), want %v", got, err, tc.ok)
			}
			if err == nil && !json.Valid(appendAudioAppend(nil, m.Payload)) {
				t.Fatalf("append event is not valid JSON")
			}
		})
	}
}

func TestEscapedPayloadsAreProtocolErrors(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	// One more than the protocol errors allowed; none may reach the model.
	for range maxProtocolErrors + 1 {
		msg := `{"event":"media","streamSid":"` + c.StreamSid() + `","media":{"payload":"/w==\n"}}`
		if err := c.SendRaw([]byte(msg)); err != nil {
			break // the relay may close as soon as the limit is passed
		}
	}
	waitFor(t, "closed", c.WaitFor, c.Closed)
	if got := c.CloseCode(); got != websocket.ClosePolicyViolation {
		t.Fatalf("close code = %d, want 1008", got)
	}
	if n := s.AppendCount(); n != 0 {
		t.Fatalf("escaped payloads reached the model: %d appends", n)
	}
	for _, e := range s.Errors() {
		if e.Code == "invalid_json" {
			t.Fatalf("the model received invalid JSON: %+v", e)
		}
	}
}

// FuzzCheckPayload holds the piecewise payload check to one Decode of the
// whole payload: the same verdict and decoded size for every input (CR
// and LF, which the decoder skips, are refused by both checks' callers).
func FuzzCheckPayload(f *testing.F) {
	frame := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, FrameBytes))
	f.Add([]byte(frame))
	f.Add([]byte("/w=="))
	f.Add([]byte(frame[:len(frame)-4] + "/w=="))
	f.Add([]byte(frame + frame + "/w=="))
	f.Add([]byte(strings.Repeat("A", payloadPiece) + "=AAA"))
	f.Add([]byte(strings.Repeat("A", payloadPiece-4) + "AA==" + "AAAA"))
	f.Add([]byte(strings.Repeat("A", payloadPiece+2)))
	f.Fuzz(func(t *testing.T, payload []byte) {
		if bytes.ContainsAny(payload, "\r\n") || base64.StdEncoding.DecodedLen(len(payload)) > maxFrameBytes {
			return
		}
		n, err := checkPayload(payload)
		want, werr := base64.StdEncoding.Decode(make([]byte, maxFrameBytes), payload)
		if (err == nil) != (werr == nil) {
			t.Fatalf("checkPayload(%q) err = %v, Decode err = %v", payload, err, werr)
		}
		if err == nil && n != want {
			t.Fatalf("checkPayload(%q) = %d bytes, Decode = %d", payload, n, want)
		}
	})
}
