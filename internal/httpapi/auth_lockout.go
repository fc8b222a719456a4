package httpapi

import (
	"net/netip"
	"sync"
	"time"
)

// Brute-force lockout window: more than the limit of failures from one
// client IP within lockoutWindow locks that IP out for lockoutWindow.
const lockoutWindow = 15 * time.Minute

// maxTrackedIPs bounds the lockout table; when full, entries with nothing
// recent are swept and, failing that, new IPs are tracked no more (their
// failures are still audited and rate limited by httprate).
const maxTrackedIPs = 100_000

// authLockout counts bearer failures per client IP in a sliding window.
// It lives in memory: a restart forgets lockouts, which the per-IP rate
// limit and the audit trail cover.
type authLockout struct {
	limit int
	now   func() time.Time

	mu  sync.Mutex
	ips map[string]*lockEntry
}

type lockEntry struct {
	fails       []time.Time // within the window, oldest first, at most limit+1
	lockedUntil time.Time
}

func newAuthLockout(limit int) *authLockout {
	return &authLockout{limit: limit, now: time.Now, ips: map[string]*lockEntry{}}
}

// locked reports whether ip is locked out now, and until when.
func (l *authLockout) locked(ip string) (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.ips[ip]
	if e == nil {
		return false, time.Time{}
	}
	if l.now().Before(e.lockedUntil) {
		return true, e.lockedUntil
	}
	return false, time.Time{}
}

// fail records a failure from ip and reports whether it just locked the IP
// out (true once per lockout) and how many failures are in the window.
func (l *authLockout) fail(ip string) (lockedNow bool, count int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.ips[ip]
	if e == nil {
		if len(l.ips) >= maxTrackedIPs {
			l.sweepLocked(now)
			if len(l.ips) >= maxTrackedIPs {
				return false, 0
			}
		}
		e = &lockEntry{}
		l.ips[ip] = e
	}
	cut := now.Add(-lockoutWindow)
	i := 0
	for i < len(e.fails) && !e.fails[i].After(cut) {
		i++
	}
	e.fails = append(e.fails[i:], now)
	if len(e.fails) > l.limit+1 {
		e.fails = e.fails[len(e.fails)-(l.limit+1):]
	}
	if len(e.fails) > l.limit && !now.Before(e.lockedUntil) {
		e.lockedUntil = now.Add(lockoutWindow)
		return true, len(e.fails)
	}
	return false, len(e.fails)
}

// sweepLocked forgets IPs with no failure or lockout in the window.
func (l *authLockout) sweepLocked(now time.Time) {
	cut := now.Add(-lockoutWindow)
	for ip, e := range l.ips {
		if now.After(e.lockedUntil) && (len(e.fails) == 0 || !e.fails[len(e.fails)-1].After(cut)) {
			delete(l.ips, ip)
		}
	}
}

// ipBucket is the key an address is counted under by the lockout and the
// per-IP rate limit: an IPv4 address as it is, an IPv6 address by its /64
// (one subscriber usually holds a whole /64, so per-/128 buckets would
// give a guesser 2^64 fresh addresses).
func ipBucket(ip string) string {
	p, ok := bucketPrefix(ip)
	switch {
	case !ok:
		return ip
	case p.Addr().Is4():
		return p.Addr().String()
	}
	return p.String()
}

// bucketAddr is ipBucket as an address (an IPv6 /64 by its first
// address), for the refusal throttle and the refusal rows, whose remote IP
// the recorder masks and so must be an address.
func bucketAddr(ip string) string {
	if p, ok := bucketPrefix(ip); ok {
		return p.Addr().String()
	}
	return ip
}

// bucketPrefix is the network an address is counted under: /32 for IPv4
// (mapped forms unmapped), /64 for IPv6; false for what does not parse.
func bucketPrefix(ip string) (netip.Prefix, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap().WithZone("")
	bits := 64
	if a.Is4() {
		bits = 32
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}
