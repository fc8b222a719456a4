package events

import (
	"log/slog"
	"testing"
)

// Finding 12: bidi controls in caller or model text never reach a viewer.
func TestPublishStripsBidiControls(t *testing.T) {
	b := NewBus(slog.New(slog.DiscardHandler), Options{})
	defer b.Close()
	sub := b.Subscribe()
	defer sub.Close()
	orig := map[string]any{"from": "\u202eevil\u202c name", "text": "plain", "n": 3}
	b.Publish(Event{Type: CallReceived, CallSID: "CA00000000000000000000000000000001", Data: orig})
	ev := <-sub.Events()
	if got := ev.Data["from"]; got != "evil name" {
		t.Fatalf("from = %q, want the bidi controls stripped", got)
	}
	if ev.Data["text"] != "plain" || ev.Data["n"] != 3 {
		t.Fatalf("other values changed: %+v", ev.Data)
	}
	if orig["from"] != "\u202eevil\u202c name" {
		t.Fatal("the publisher's map was changed")
	}
}
