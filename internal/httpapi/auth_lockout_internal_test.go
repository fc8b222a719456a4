package httpapi

import (
	"strconv"
	"testing"
	"time"
)

func TestAuthLockoutWindow(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newAuthLockout(2)
	l.now = func() time.Time { return now }
	step := func(d time.Duration) { now = now.Add(d) }

	for i := 0; i < 2; i++ {
		if locked, _ := l.fail("a"); locked {
			t.Fatalf("locked after %d failures", i+1)
		}
		step(time.Minute)
	}
	// Failures older than the window do not count.
	step(lockoutWindow)
	if locked, n := l.fail("a"); locked || n != 1 {
		t.Fatalf("old failures counted: locked=%v n=%d", locked, n)
	}
	l.fail("a")
	if locked, _ := l.fail("a"); !locked {
		t.Fatal("3 failures within the window must lock (limit 2)")
	}
	if locked, _ := l.locked("a"); !locked {
		t.Fatal("not locked")
	}
	if locked, _ := l.locked("b"); locked {
		t.Fatal("other IP locked")
	}
	step(lockoutWindow - time.Second)
	if locked, _ := l.locked("a"); !locked {
		t.Fatal("lock ended early")
	}
	step(2 * time.Second)
	if locked, _ := l.locked("a"); locked {
		t.Fatal("lock did not end after the window")
	}
}

func TestAuthLockoutBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newAuthLockout(5)
	l.now = func() time.Time { return now }
	for i := 0; i < maxTrackedIPs+10; i++ {
		l.fail(strconv.Itoa(i))
	}
	if len(l.ips) > maxTrackedIPs {
		t.Fatalf("tracked %d IPs, cap %d", len(l.ips), maxTrackedIPs)
	}
	now = now.Add(2 * lockoutWindow)
	l.fail("new")
	if len(l.ips) != 1 {
		t.Fatalf("stale entries not swept: %d", len(l.ips))
	}
}
