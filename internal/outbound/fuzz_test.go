package outbound

import (
	"testing"
	"time"
)

// FuzzParseQuietHours: any OUTBOUND_QUIET_HOURS value is refused or read
// into a window whose String parses back to itself, and checking a time
// against it never panics.
func FuzzParseQuietHours(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuietHours(s)
		if err != nil || q == nil {
			return
		}
		again, err := ParseQuietHours(q.String())
		if err != nil || again.String() != q.String() {
			t.Fatalf("%q -> %q -> %v, %v", s, q.String(), again, err)
		}
		la, _ := time.LoadLocation("America/Los_Angeles")
		q.Allowed([]*time.Location{la, time.UTC}, time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC))
	})
}
