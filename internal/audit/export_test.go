package audit

import "time"

// Test seams: options only the tests use, kept off the production API.

// WithClock replaces time.Now (tests of the time windows).
func WithClock(now func() time.Time) Option { return func(r *Recorder) { r.now = now } }

// RefusalClock replaces time.Now and the flush timer (tests drive both).
func RefusalClock(now func() time.Time, after func(time.Duration, func())) RefusalOption {
	return func(a *Refusals) { a.now, a.after = now, after }
}

// RefusalLimit replaces the bound on tracked keys (tests of the overflow).
func RefusalLimit(n int) RefusalOption { return func(a *Refusals) { a.max = n } }
