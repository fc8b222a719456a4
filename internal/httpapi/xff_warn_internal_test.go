package httpapi

import (
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/logging"
)

func TestPeerWarnerOncePerPeerPerHour(t *testing.T) {
	p := newPeerWarner(logging.Discard())
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	if !p.warn("192.0.2.1") || p.warn("192.0.2.1") || !p.warn("192.0.2.2") {
		t.Fatal("want one warning per peer")
	}
	now = now.Add(xffWarnEvery)
	if !p.warn("192.0.2.1") {
		t.Fatal("no warning again after xffWarnEvery")
	}
	// A flood of peers is bounded.
	for i := 0; i < 3*xffMaxPeers; i++ {
		p.warn(string(rune('a'+i%26)) + time.Duration(i).String())
	}
	if len(p.seen) > xffMaxPeers {
		t.Fatalf("remembered %d peers, cap %d", len(p.seen), xffMaxPeers)
	}
}

func TestIPBucket(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"::ffff:203.0.113.7":   "203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2::9":      "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
		"not-an-ip":            "not-an-ip",
	} {
		if got := ipBucket(in); got != want {
			t.Errorf("ipBucket(%q) = %q, want %q", in, got, want)
		}
	}
}
