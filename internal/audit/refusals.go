package audit

import (
	"log/slog"
	"sync"
	"time"

	"github.com/voiceagent/voiceagent/internal/panics"
)

// Refusal aggregation: what an unauthenticated client can make us write is
// bounded. A refused request is noted here instead of being recorded; the
// aggregator writes at most one authentication_failure row per (client IP,
// surface, reason) per RefusalWindow, carrying in Detail "count" how many
// refusals it stands for. The first refusal of a quiet key is written at
// once (an attack shows up without delay); the ones that follow within the
// window are counted and written when the window has passed, by the next
// refusal of that key or by a timer. Callers log a line only when Note
// says a row was written, so log lines are sampled the same way.
const (
	RefusalWindow = time.Minute
	// maxRefusalKeys bounds the table. Beyond it, refusals from new IPs
	// are counted under one overflow key per (surface, reason), whose row
	// has no IP and Detail "overflow": true.
	maxRefusalKeys = 10_000
)

// Sink takes the aggregated rows; (*Recorder).Record is one.
type Sink interface{ Record(Event) }

type refusalKey struct{ typ, ip, surface, reason, actor string }

type refusalEntry struct {
	path      string
	extra     map[string]any
	lastWrite time.Time // when the last row for this key was written
	pending   int       // refusals since then, not yet written
}

// Refusals aggregates refused requests into bounded audit rows. The zero
// value is not usable; use NewRefusals.
type Refusals struct {
	sink   Sink
	now    func() time.Time
	window time.Duration
	max    int
	// after schedules the flush timer (time.AfterFunc; tests replace it).
	after func(d time.Duration, f func())
	log   *slog.Logger // for a panic the timer goroutine contains

	mu        sync.Mutex
	keys      map[refusalKey]*refusalEntry
	scheduled bool
}

// RefusalOption adjusts a Refusals.
type RefusalOption func(*Refusals)

// RefusalLog is where a panic in the flush timer is reported (its
// goroutine contains it; the counts it held are lost).
func RefusalLog(l *slog.Logger) RefusalOption { return func(a *Refusals) { a.log = l } }

// NewRefusals aggregates into sink.
func NewRefusals(sink Sink, opts ...RefusalOption) *Refusals {
	a := &Refusals{sink: sink, now: time.Now, window: RefusalWindow, max: maxRefusalKeys,
		keys: map[refusalKey]*refusalEntry{}, log: slog.New(slog.DiscardHandler)}
	a.after = func(d time.Duration, f func()) { time.AfterFunc(d, func() { a.contain(f) }) }
	for _, o := range opts {
		o(a)
	}
	return a
}

// Refusal is one refused request.
type Refusal struct {
	// Type is the row's type: TypeAuthFailure when empty, TypeAccessDenied
	// for a token that lacks a route's scope.
	Type     string
	RemoteIP string // unmasked; the recorder masks it
	Surface  string // "twilio", "media", "logs", "ready", "api"
	Reason   string // "bad_signature", "rate_limited", ...
	Actor    string // part of the key: two tokens refused from one address are two rows
	Path     string // already free of tokens and numbers
	// Extra is added to the row's Detail (say, the missing scope); it
	// must be the same for every refusal of one key.
	Extra map[string]any
}

// Note counts one refusal and reports whether a row was written for it
// now (and with what count), which is when the caller should log.
func (a *Refusals) Note(f Refusal) (written bool, count int) {
	now := a.now()
	var out *Event
	a.mu.Lock()
	typ := f.Type
	if typ == "" {
		typ = TypeAuthFailure
	}
	k := refusalKey{typ, f.RemoteIP, f.Surface, f.Reason, f.Actor}
	e := a.keys[k]
	if e == nil {
		if len(a.keys) >= a.max {
			a.sweepLocked(now, nil)
		}
		if len(a.keys) >= a.max {
			k.ip = ""
			e = a.keys[k]
		}
		if e == nil {
			e = &refusalEntry{path: f.Path, extra: f.Extra}
			a.keys[k] = e
		}
	}
	e.pending++
	if e.lastWrite.IsZero() || now.Sub(e.lastWrite) >= a.window {
		ev := a.rowLocked(k, e, now)
		out = &ev
	}
	schedule := e.pending > 0 && !a.scheduled
	if schedule {
		a.scheduled = true
	}
	a.mu.Unlock()
	if schedule {
		a.after(a.window, a.Flush)
	}
	if out == nil {
		return false, 0
	}
	a.sink.Record(*out)
	return true, out.Detail["count"].(int)
}

// rowLocked builds the row for k's pending refusals and resets them.
func (a *Refusals) rowLocked(k refusalKey, e *refusalEntry, now time.Time) Event {
	d := map[string]any{"surface": k.surface, "reason": k.reason, "count": e.pending,
		"windowSeconds": int(a.window / time.Second)}
	if e.path != "" {
		d["path"] = e.path
	}
	for name, v := range e.extra {
		d[name] = v
	}
	if k.ip == "" {
		d["overflow"] = true
	}
	e.pending = 0
	e.lastWrite = now
	return Event{Type: k.typ, Severity: Warning, Actor: k.actor, RemoteIP: k.ip, Time: now, Detail: d}
}

// sweepLocked writes (into rows, when not nil) the pending counts whose
// window has passed and forgets keys with nothing pending and a quiet
// window. With rows nil, only quiet keys are forgotten.
func (a *Refusals) sweepLocked(now time.Time, rows *[]Event) {
	for k, e := range a.keys {
		if now.Sub(e.lastWrite) < a.window {
			continue
		}
		if e.pending == 0 {
			delete(a.keys, k)
		} else if rows != nil {
			*rows = append(*rows, a.rowLocked(k, e, now))
		}
	}
}

// Flush writes every pending count whose window has passed, and schedules
// itself again while counts are still waiting for theirs. The timer calls
// it; shutdown may too.
func (a *Refusals) Flush() {
	now := a.now()
	var rows []Event
	a.mu.Lock()
	a.sweepLocked(now, &rows)
	waiting := false
	for _, e := range a.keys {
		if e.pending > 0 {
			waiting = true
			break
		}
	}
	a.scheduled = waiting
	a.mu.Unlock()
	for _, ev := range rows {
		a.sink.Record(ev)
	}
	if waiting {
		a.after(a.window, a.Flush)
	}
}

// FlushAll writes every pending count now, window or not (shutdown).
func (a *Refusals) FlushAll() {
	now := a.now()
	var rows []Event
	a.mu.Lock()
	for k, e := range a.keys {
		if e.pending > 0 {
			rows = append(rows, a.rowLocked(k, e, now))
		}
	}
	a.mu.Unlock()
	for _, ev := range rows {
		a.sink.Record(ev)
	}
}

// contain runs the timer's flush; a panic is logged, not fatal.
func (a *Refusals) contain(f func()) {
	defer func() {
		if v := recover(); v != nil {
			a.mu.Lock()
			a.scheduled = false
			a.mu.Unlock()
			panics.Log(a.log, "panic contained", "refusals", v, false)
		}
	}()
	f()
}
