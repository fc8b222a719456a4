package webhooks

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestBackoff: the first retry comes within 30 s (7.5-15 s), waits double
// per failure with jitter in the upper half, and never exceed 6 h.
func TestBackoff(t *testing.T) {
	for range 200 {
		if d := Backoff(1); d < 7500*time.Millisecond || d > 15*time.Second {
			t.Fatalf("Backoff(1) = %v, want 7.5-15 s", d)
		}
		if d := Backoff(3); d < 30*time.Second || d > time.Minute {
			t.Fatalf("Backoff(3) = %v, want 30-60 s", d)
		}
		if d := Backoff(40); d < 3*time.Hour || d > 6*time.Hour {
			t.Fatalf("Backoff(40) = %v, want 3-6 h", d)
		}
	}
	// Retries over 24 hours: a few dozen attempts, not thousands.
	var total time.Duration
	n := 0
	for total < GiveUpAfter {
		n++
		total += Backoff(n)
	}
	if n < 10 || n > 30 {
		t.Fatalf("%d attempts in 24 h", n)
	}
}

func TestMask(t *testing.T) {
	if got := TypesOf(Bit(CallEnded) | Bit(SecurityAlert)); strings.Join(got, ",") != "call.ended,security.alert" {
		t.Fatalf("TypesOf = %v", got)
	}
	if Bit("call.answered") != 0 || Bit(Test) != 0 {
		t.Fatal("unknown types must have no bit")
	}
}

// TestRenderMasksNumbers: call.started's data carries the numbers masked
// unless showNumbers; the envelope has id, type, createdAt and data.
func TestRenderMasksNumbers(t *testing.T) {
	snap := CallSnapshot{CallSID: "CA00000000000000000000000000000001", Direction: "inbound", From: "+15555550123", To: "+15555550199",
		Status: "ringing", Decision: Decision{Result: "accept"}, ReceivedAt: time.Unix(1700000000, 0).UTC()}
	p := Pending{EventID: "evt_1", Type: CallStarted, Payload: snap.Payload(), CreatedAt: time.Unix(1700000000, 0)}
	for _, show := range []bool{false, true} {
		b, err := render(context.Background(), p, nil, show)
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			ID, Type  string
			CreatedAt time.Time
			Data      CallSnapshot
		}
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatal(err)
		}
		if env.ID != "evt_1" || env.Type != CallStarted || env.CreatedAt.IsZero() || env.Data.CallSID != snap.CallSID {
			t.Fatalf("envelope = %s", b)
		}
		if hidden := !strings.Contains(string(b), "+15555550123"); hidden == show {
			t.Fatalf("showNumbers=%v: %s", show, b)
		}
	}
	if _, err := render(context.Background(), Pending{Type: CallEnded}, nil, false); err == nil {
		t.Fatal("call.ended without a detail function rendered")
	}
}
