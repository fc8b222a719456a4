package poll_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/voiceagent/voiceagent/internal/poll"
)

func TestUntilReturnsWhenTheConditionHolds(t *testing.T) {
	var n atomic.Int64
	if err := poll.Until(context.Background(), func() bool { return n.Add(1) >= 3 }); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 {
		t.Fatalf("checked %d times, want 3", n.Load())
	}
}

func TestUntilEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	err := poll.Until(ctx, func() bool {
		if n.Add(1) == 2 {
			cancel()
		}
		return false
	})
	if err != context.Canceled {
		t.Fatalf("Until = %v, want context.Canceled", err)
	}
}
