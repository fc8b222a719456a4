package tokenbucket_test

import (
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/tokenbucket"
)

var t0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// allowed counts how many of n events at one instant the bucket lets through.
func allowed(b *tokenbucket.Bucket, now time.Time, n int) int {
	k := 0
	for range n {
		if b.Allow(now) {
			k++
		}
	}
	return k
}

func TestBucketBurstThenRate(t *testing.T) {
	b := tokenbucket.New(100, 10)
	if got := allowed(&b, t0, 50); got != 10 {
		t.Fatalf("at once: %d allowed, want the burst of 10", got)
	}
	// 50 ms at 100/s refills 5 tokens.
	if got := allowed(&b, t0.Add(50*time.Millisecond), 50); got != 5 {
		t.Fatalf("after 50 ms: %d allowed, want 5", got)
	}
	// A long pause refills only up to the burst.
	if got := allowed(&b, t0.Add(time.Hour), 50); got != 10 {
		t.Fatalf("after an hour: %d allowed, want the burst of 10", got)
	}
}

func TestBucketSlowRate(t *testing.T) {
	b := tokenbucket.New(1.0/5, 2) // a token every 5 s
	if got := allowed(&b, t0, 3); got != 2 {
		t.Fatalf("at once: %d, want 2", got)
	}
	if b.Allow(t0.Add(4 * time.Second)) {
		t.Fatal("a token before 5 s")
	}
	if !b.Allow(t0.Add(5 * time.Second)) {
		t.Fatal("no token after 5 s")
	}
}

// TestBucketClockStepsBack: a clock going backwards neither refills nor
// drains the bucket.
func TestBucketClockStepsBack(t *testing.T) {
	b := tokenbucket.New(10, 3)
	allowed(&b, t0, 1)
	if got := allowed(&b, t0.Add(-time.Hour), 5); got != 2 {
		t.Fatalf("after a step back: %d allowed, want the 2 tokens left", got)
	}
	if got := allowed(&b, t0.Add(100*time.Millisecond), 5); got != 1 {
		t.Fatalf("100 ms after the last event at 10/s: %d allowed, want 1", got)
	}
}

func TestZeroBucketAllowsNothing(t *testing.T) {
	var b tokenbucket.Bucket
	if b.Allow(t0) || b.Allow(t0.Add(time.Hour)) {
		t.Fatal("a zero Bucket allowed an event")
	}
}
