// Package poll waits for a condition that nothing signals, by checking it
// every few milliseconds until it holds or a deadline passes. Tests use it
// in place of sleeps: they wait exactly as long as the condition takes.
package poll

import (
	"context"
	"testing"
	"time"
)

// Every is how often a condition is checked.
const Every = 5 * time.Millisecond

// Timeout bounds Wait.
const Timeout = 15 * time.Second

// Until checks cond every Every until it holds (nil) or ctx ends (its
// error).
func Until(ctx context.Context, cond func() bool) error {
	if cond() {
		return nil
	}
	tick := time.NewTicker(Every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if cond() {
				return nil
			}
		}
	}
}

// Wait fails the test when cond does not hold within Timeout; what names
// the awaited state in the failure.
func Wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := Until(ctx, cond); err != nil {
		t.Fatalf("timed out after %s waiting for %s", Timeout, what)
	}
}
