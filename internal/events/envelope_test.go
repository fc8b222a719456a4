package events

import (
	"bytes"
	"testing"
	"time"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	ev := Event{Type: TranscriptLine, CallSID: "CA00000000000000000000000000000001", Time: time.UnixMilli(1700000000000).UTC(), Data: map[string]any{"role": "agent", "text": "hello"}}
	b, err := encodeEnvelope("i1", ev)
	if err != nil {
		t.Fatal(err)
	}
	src, got, err := decodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if src != "i1" || got.Type != ev.Type || got.CallSID != ev.CallSID || !got.Time.Equal(ev.Time) || got.Data["text"] != "hello" {
		t.Fatalf("round trip = %q %+v", src, got)
	}
	for _, bad := range []string{``, `{}`, `{"v":2,"src":"a","ev":{"type":"x"}}`, `{"v":1,"ev":{"type":"x"}}`, `{"v":1,"src":"a","ev":{}}`, `[1]`} {
		if _, _, err := decodeEnvelope([]byte(bad)); err == nil {
			t.Errorf("decodeEnvelope(%q) accepted", bad)
		}
	}
}

// FuzzDecodeEnvelope feeds arbitrary NOTIFY payloads to the decoder: it
// must never panic, and what it accepts must satisfy its limits.
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add([]byte(`{"v":1,"src":"abc","ev":{"type":"transcript","callSid":"CA00000000000000000000000000000001","time":"2026-01-01T00:00:00Z","data":{"role":"caller","text":"hi"}}}`))
	f.Add([]byte(`{"v":1,"src":"abc","ev":{"type":"x"}}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		src, ev, err := decodeEnvelope(p)
		if err != nil {
			return
		}
		if src == "" || ev.Type == "" || len(ev.Type) > maxTypeLen || len(ev.CallSID) > maxCallSIDLen {
			t.Fatalf("accepted an invalid envelope: %q %+v", src, ev)
		}
	})
}

// TestOwnEnvelopesAreRecognisedByTheirPrefix: every envelope an instance
// encodes begins with its source prefix, so the bus drops its own events
// coming back from the transport without decoding them; an envelope of
// another instance (even one whose ID extends this one's) never does.
func TestOwnEnvelopesAreRecognisedByTheirPrefix(t *testing.T) {
	const me = "0123456789abcdef"
	events := []Event{
		{Type: CallReceived, CallSID: "CA00000000000000000000000000000001", Time: time.UnixMilli(1700000000000).UTC(),
			Data: map[string]any{"decision": "accept", "from": "+15555550100"}},
		{Type: TranscriptLine, Data: map[string]any{"text": "\"src\":\"" + me + "\", \u00e9 <b>"}},
		{Type: "x"},
	}
	for _, ev := range events {
		own, err := encodeEnvelope(me, ev)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(own, sourcePrefix(me)) {
			t.Errorf("own envelope %s does not begin with %s", own, sourcePrefix(me))
		}
		if src, _, err := decodeEnvelope(own); err != nil || src != me {
			t.Errorf("own envelope decodes to source %q, %v", src, err)
		}
		for _, other := range []string{"fedcba9876543210", me + "00", me[:8]} {
			theirs, err := encodeEnvelope(other, ev)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.HasPrefix(theirs, sourcePrefix(me)) {
				t.Errorf("envelope of %s taken for this instance's: %s", other, theirs)
			}
		}
	}
}
