// Package groupcommit runs concurrent requests in shared batches (group
// commit): a request that arrives while batches are running waits in a
// bounded queue, and the next batch takes every waiting request (up to a
// batch size) and runs them together, so a transaction's fixed cost (a
// commit, a WAL flush) is paid once per batch instead of once per request.
//
// A Group bounds three things: the requests in one batch, the batches
// running at once, and the requests waiting. A request over the waiting
// bound is refused at once (ErrOverloaded), so a burst larger than the
// database can absorb is answered quickly instead of queueing without
// limit. A waiter whose context ends returns at once with the context's
// error.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrOverloaded is Do's answer when the queue of waiting requests is full.
var ErrOverloaded = errors.New("too many requests waiting for a batch")

// Options bound a Group. Zero values take the defaults named.
type Options struct {
	// MaxBatch is the most requests one batch runs (default 128).
	MaxBatch int
	// MaxRunning is the most batches running at once (default 1). More
	// than one lets batches overlap their commits, where the database can
	// commit concurrent transactions together.
	MaxRunning int
	// OverlapAt is how many requests must be waiting before another batch
	// starts beside a running one (default 1: at once). A higher value
	// keeps batches large (fewer transactions) until a queue builds up.
	OverlapAt int
	// MaxWaiting is the most requests waiting for a batch (default
	// 16 x MaxBatch); Do refuses more with ErrOverloaded.
	MaxWaiting int
	// OnPanic, when set, is told of a panic in a batch (which Do then
	// returns as an error to the batch's waiters).
	OnPanic func(v any)
}

// Group is a group commit of requests of type T (usually a pointer the
// batch fills in). The zero value is not usable; use New.
type Group[T any] struct {
	run        func(batch []T) error
	maxBatch   int
	maxRunning int
	maxWaiting int
	overlapAt  int
	onPanic    func(v any)

	mu      sync.Mutex
	waiting []*request[T]
	running int
	runners sync.WaitGroup
}

// request is one Do call: its item, whether a batch took it, and the
// batch's outcome once done is closed.
type request[T any] struct {
	item  T
	taken bool // by a batch (guarded by Group.mu)
	err   error
	done  chan struct{}
}

// New returns a Group that runs batches with run. run gets the items in
// the order their Do calls queued them; its error (or a panic, turned
// into an error) is what Do returns for every item of the batch. run must
// skip an item whose caller has gone (the item's own context ended) if
// running it would matter: that caller has already returned.
func New[T any](opts Options, run func(batch []T) error) *Group[T] {
	g := &Group[T]{run: run, maxBatch: opts.MaxBatch, maxRunning: opts.MaxRunning, maxWaiting: opts.MaxWaiting, overlapAt: max(opts.OverlapAt, 1), onPanic: opts.OnPanic}
	if g.maxBatch <= 0 {
		g.maxBatch = 128
	}
	if g.maxRunning <= 0 {
		g.maxRunning = 1
	}
	if g.maxWaiting <= 0 {
		g.maxWaiting = 16 * g.maxBatch
	}
	return g
}

// Do queues item and waits for the batch that runs it. It returns the
// batch's error (nil when it ran), ErrOverloaded at once when MaxWaiting
// requests are already waiting, or ctx's error as soon as ctx ends. In
// that last case the item was either never run (it was still waiting, and
// is dropped) or taken by a batch already under way, which may still run
// it: a request abandoned mid-commit is exactly as if its caller had gone
// away right after the commit.
func (g *Group[T]) Do(ctx context.Context, item T) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request[T]{item: item, done: make(chan struct{})}
	g.mu.Lock()
	if len(g.waiting) >= g.maxWaiting {
		g.mu.Unlock()
		return ErrOverloaded
	}
	g.waiting = append(g.waiting, r)
	if g.running == 0 || (g.running < g.maxRunning && len(g.waiting) >= g.overlapAt) {
		g.running++
		g.runners.Add(1)
		go g.runBatches()
	}
	g.mu.Unlock()

	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		g.mu.Lock()
		if !r.taken {
			g.remove(r)
		}
		g.mu.Unlock()
		return ctx.Err()
	}
}

// Waiting returns how many requests wait for a batch.
func (g *Group[T]) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.waiting)
}

// Wait returns once no batch is running. Requests queued after it returns
// start new batches.
func (g *Group[T]) Wait() { g.runners.Wait() }

// remove drops r from the waiting list; g.mu is held.
func (g *Group[T]) remove(r *request[T]) {
	for i, w := range g.waiting {
		if w == r {
			g.waiting = append(g.waiting[:i], g.waiting[i+1:]...)
			return
		}
	}
}

// runBatches is one runner: it runs the oldest waiting requests, a batch
// at a time, until none wait. Holding mu only to take a batch, it holds no
// lock while the batch runs (STYLE.md habit 17).
func (g *Group[T]) runBatches() {
	defer g.runners.Done()
	for {
		g.mu.Lock()
		n := min(len(g.waiting), g.maxBatch)
		if n == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		batch := make([]*request[T], n)
		copy(batch, g.waiting)
		g.waiting = append(g.waiting[:0], g.waiting[n:]...)
		for _, r := range batch {
			r.taken = true
		}
		g.mu.Unlock()

		err := g.runOne(batch)
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
	}
}

// runOne runs one batch, turning a panic into the batch's error so its
// waiters are answered and the runner lives on.
func (g *Group[T]) runOne(batch []*request[T]) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if g.onPanic != nil {
				g.onPanic(v)
			}
			err = fmt.Errorf("group commit: batch panicked: %v", v)
		}
	}()
	items := make([]T, len(batch))
	for i, r := range batch {
		items[i] = r.item
	}
	return g.run(items)
}
