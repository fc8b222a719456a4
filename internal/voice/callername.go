package voice

import (
	"context"
	"strings"
	"sync"
	"time"
	"unicode"
)

// CleanCallerName makes a caller name (CNAM from the webhook or a lookup)
// safe to store, log, show on the dashboard and put into TwiML: it drops
// what XML cannot hold and invalid UTF-8, C0 and C1 control characters,
// the line and paragraph separators U+2028/U+2029, and every bidirectional
// control (the embeddings and overrides U+202A-U+202E, the isolates
// U+2066-U+2069 and the marks U+200E, U+200F, U+061C), which could
// reorder what an operator reads; then trims spaces and keeps at most 64
// characters.
func CleanCallerName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20, r >= 0x7f && r <= 0x9f, r == '\u2028', r == '\u2029', unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, xmlSafe(s))
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 64 {
		s = strings.TrimSpace(string(r[:64]))
	}
	return s
}

// Caller-name lookup limits: Twilio waits for the incoming-call answer, so
// a lookup gets little time, and results are cached so a caller who rings
// again is not looked up (and billed) twice.
const (
	LookupTimeout  = 1500 * time.Millisecond
	lookupCacheTTL = 24 * time.Hour
	lookupCacheMax = 10000
)

type nameInfo struct {
	name, callerType string
	expires          time.Time
}

// nameCache is a bounded TTL cache in front of the lookup. Failures are
// not cached: the next call tries again.
type nameCache struct {
	src CallerNames
	now func() time.Time

	mu      sync.Mutex
	entries map[string]nameInfo
}

func newNameCache(src CallerNames, now func() time.Time) *nameCache {
	return &nameCache{src: src, now: now, entries: map[string]nameInfo{}}
}

// lookup returns the caller name of number; ok is false when no lookup is
// configured or it failed.
func (c *nameCache) lookup(ctx context.Context, number string) (nameInfo, bool) {
	if c.src == nil {
		return nameInfo{}, false
	}
	now := c.now()
	c.mu.Lock()
	if e, ok := c.entries[number]; ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e, true
	}
	c.mu.Unlock()

	lctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	name, typ, err := c.src.LookupCallerName(lctx, number)
	if err != nil {
		return nameInfo{}, false
	}
	e := nameInfo{name: name, callerType: typ, expires: now.Add(lookupCacheTTL)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= lookupCacheMax {
		for k, v := range c.entries {
			if !now.Before(v.expires) || len(c.entries) >= lookupCacheMax {
				delete(c.entries, k)
			}
			if len(c.entries) < lookupCacheMax*9/10 {
				break
			}
		}
	}
	c.entries[number] = e
	return e, true
}
