// Package tokenbucket provides Bucket, a token bucket: a sustained rate
// with a burst allowance, checked against a clock the caller passes in.
package tokenbucket

import "time"

// Bucket holds up to burst tokens and gains rate tokens a second; each
// allowed event takes one. It starts full at its first Allow. A Bucket is
// owned by one goroutine (or guarded by its owner's lock): it has no lock
// of its own, because the relay's reader checks one per message.
type Bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

// New returns a bucket of burst tokens refilled at rate tokens a second.
func New(rate float64, burst int) Bucket {
	return Bucket{rate: rate, burst: float64(burst)}
}

// Allow reports whether an event at now fits the bucket, and takes a
// token when it does. A clock that steps back adds no tokens.
func (b *Bucket) Allow(now time.Time) bool {
	if b.last.IsZero() {
		b.last, b.tokens = now, b.burst
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
