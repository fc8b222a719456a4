package load

import (
	"slices"
	"time"
)

// Latency summarises a set of latencies.
type Latency struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// summarize sorts us (microseconds) in place and returns its percentiles.
func summarize(us []uint32) Latency {
	if len(us) == 0 {
		return Latency{}
	}
	slices.Sort(us)
	at := func(p float64) time.Duration {
		i := int(p * float64(len(us)-1))
		return time.Duration(us[i]) * time.Microsecond
	}
	return Latency{N: len(us), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: time.Duration(us[len(us)-1]) * time.Microsecond}
}

// clock stamps times as microseconds since a base, plus one, in 32 bits
// (zero means "never"; good for 71 minutes), to keep per-frame records
// small at thousands of calls.
type clock struct{ base time.Time }

func (c clock) stamp(t time.Time) uint32 {
	d := t.Sub(c.base)
	if d < 0 {
		d = 0
	}
	return uint32(d/time.Microsecond) + 1
}

// diff is b-a in microseconds for two stamps (0 when b is earlier).
func diff(a, b uint32) uint32 {
	if b < a {
		return 0
	}
	return b - a
}
