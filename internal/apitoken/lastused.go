package apitoken

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// lastUsed coalesces last-used times: touch only notes the time in memory;
// one goroutine writes what was noted every interval in one call, so a
// token used a thousand times a second costs one write a minute.
type lastUsed struct {
	every time.Duration
	write func(ctx context.Context, used map[string]time.Time) error
	log   *slog.Logger
	// panicked reports a contained panic of a write (logged and audited
	// by the service).
	panicked func(v any)

	mu      sync.Mutex
	pending map[string]time.Time

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// maxPending bounds the notes between writes (one per token name).
const maxPending = 10_000

func newLastUsed(every time.Duration, write func(context.Context, map[string]time.Time) error, log *slog.Logger, panicked func(any)) *lastUsed {
	l := &lastUsed{every: every, write: write, log: log, panicked: panicked, pending: map[string]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l
}

// touch notes that name was used at t; it never blocks on the store.
func (l *lastUsed) touch(name string, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.pending[name]; ok && !t.After(old) {
		return
	}
	if _, ok := l.pending[name]; !ok && len(l.pending) >= maxPending {
		return
	}
	l.pending[name] = t
}

// forget drops a pending note (the token was revoked).
func (l *lastUsed) forget(name string) {
	l.mu.Lock()
	delete(l.pending, name)
	l.mu.Unlock()
}

// take returns and clears the pending notes.
func (l *lastUsed) take() map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) == 0 {
		return nil
	}
	p := l.pending
	l.pending = map[string]time.Time{}
	return p
}

// flush writes the pending notes now. A panicking write (a store fault)
// is contained and reported; its notes are lost (the next use notes the
// time again), the writer goes on.
func (l *lastUsed) flush(ctx context.Context) {
	p := l.take()
	if p == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			l.panicked(v)
		}
	}()
	if err := l.write(ctx, p); err != nil {
		l.log.Warn("api tokens: writing last-used times failed", "err", err, "tokens", len(p))
	}
}

func (l *lastUsed) run() {
	defer close(l.done)
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			l.flush(ctx)
			cancel()
		}
	}
}

// close stops the writer and writes what is pending.
func (l *lastUsed) close() {
	l.stopOnce.Do(func() {
		close(l.stop)
		<-l.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.flush(ctx)
	})
}
