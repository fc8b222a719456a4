package groupcommit_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voiceagent/voiceagent/internal/groupcommit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// deadline is how long a test waits for something that must happen at
// once; reaching it is a failure (a hang), never a timing measurement.
const deadline = 10 * time.Second

// item is what the tests' batches run: it records the batch it ran in.
type item struct {
	n     int
	batch int
}

// gate is a run function that blocks every batch until opened, and
// records the batches it ran.
type gate struct {
	open    chan struct{}
	started chan int // batch sizes, as batches start

	mu      sync.Mutex
	batches [][]int
}

func newGate() *gate {
	return &gate{open: make(chan struct{}), started: make(chan int, 1000)}
}

func (g *gate) run(batch []*item) error {
	g.mu.Lock()
	id := len(g.batches)
	ns := make([]int, len(batch))
	for i, it := range batch {
		ns[i] = it.n
		it.batch = id
	}
	g.batches = append(g.batches, ns)
	g.mu.Unlock()
	g.started <- len(batch)
	<-g.open
	return nil
}

// waitFor polls cond until it holds, failing the test at the deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	stop := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(stop) {
			t.Fatalf("still waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBatchesTakeEveryWaiter: requests that arrive while a batch runs are
// run together by the next batch, in the order they queued.
func TestBatchesTakeEveryWaiter(t *testing.T) {
	g := newGate()
	grp := groupcommit.New(groupcommit.Options{MaxBatch: 100}, g.run)
	ctx := context.Background()
	var wg sync.WaitGroup
	first := &item{n: 0}
	wg.Add(1)
	go func() { defer wg.Done(); _ = grp.Do(ctx, first) }()
	<-g.started // the first batch runs (and blocks)
	items := make([]*item, 10)
	for i := range items {
		items[i] = &item{n: i + 1}
		wg.Add(1)
		go func() { defer wg.Done(); _ = grp.Do(ctx, items[i]) }()
		waitFor(t, "the request to queue", func() bool { return grp.Waiting() == i+1 })
	}
	close(g.open)
	wg.Wait()
	grp.Wait()
	if len(g.batches) != 2 {
		t.Fatalf("batches = %v, want the first request alone and then the other ten together", g.batches)
	}
	for i, n := range g.batches[1] {
		if n != i+1 {
			t.Fatalf("second batch = %v, want 1..10 in queue order", g.batches[1])
		}
	}
}

// TestMaxRunningBoundsConcurrentBatches: no more batches run at once than
// MaxRunning, and each request is run exactly once.
func TestMaxRunningBoundsConcurrentBatches(t *testing.T) {
	var running, peak, ran atomic.Int64
	grp := groupcommit.New(groupcommit.Options{MaxBatch: 3, MaxRunning: 4, MaxWaiting: 1000}, func(batch []*item) error {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		ran.Add(int64(len(batch)))
		time.Sleep(100 * time.Microsecond) // lets batches overlap; no assertion depends on it
		running.Add(-1)
		return nil
	})
	var wg sync.WaitGroup
	for i := range 500 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := grp.Do(context.Background(), &item{n: i}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	grp.Wait()
	if got := ran.Load(); got != 500 {
		t.Fatalf("ran %d requests, want 500", got)
	}
	if p := peak.Load(); p > 4 {
		t.Fatalf("%d batches ran at once, want at most 4", p)
	}
}

// TestDoReturnsWhenItsContextEnds: a waiter whose context ends returns at
// once with the context's error, while the batch ahead of it still runs;
// a request still waiting is dropped and never run.
func TestDoReturnsWhenItsContextEnds(t *testing.T) {
	g := newGate()
	grp := groupcommit.New(groupcommit.Options{}, g.run)
	done := make(chan error, 1)
	go func() { done <- grp.Do(context.Background(), &item{n: 0}) }()
	<-g.started

	ctx, cancel := context.WithCancel(context.Background())
	waiter := &item{n: 1, batch: -1}
	got := make(chan error, 1)
	go func() { got <- grp.Do(ctx, waiter) }()
	waitFor(t, "the waiter to queue", func() bool { return grp.Waiting() == 1 })
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Do = %v, want context.Canceled", err)
		}
	case <-time.After(deadline):
		t.Fatal("Do still waiting after its context ended (it waits for the batch ahead)")
	}
	if n := grp.Waiting(); n != 0 {
		t.Fatalf("waiting = %d after the waiter left, want 0", n)
	}
	close(g.open)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	grp.Wait()
	if len(g.batches) != 1 || waiter.batch != -1 {
		t.Fatalf("batches = %v: the abandoned request ran", g.batches)
	}
	if err := grp.Do(ctx, &item{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with an ended context = %v, want context.Canceled", err)
	}
}

// TestDoLeavesATakenRequestPromptly: a request already taken by a running
// batch also returns at once when its context ends (the batch may still
// run it).
func TestDoLeavesATakenRequestPromptly(t *testing.T) {
	g := newGate()
	grp := groupcommit.New(groupcommit.Options{}, g.run)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() { got <- grp.Do(ctx, &item{}) }()
	<-g.started
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Do = %v, want context.Canceled", err)
		}
	case <-time.After(deadline):
		t.Fatal("Do still waiting for its batch after its context ended")
	}
	close(g.open)
	grp.Wait()
}

// TestWaitingIsBounded: with the batches stuck, requests beyond
// MaxWaiting are refused at once with ErrOverloaded, and the queue never
// grows past it.
func TestWaitingIsBounded(t *testing.T) {
	g := newGate()
	grp := groupcommit.New(groupcommit.Options{MaxBatch: 4, MaxWaiting: 8}, g.run)
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = grp.Do(ctx, &item{}) }()
	<-g.started
	for i := range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = grp.Do(ctx, &item{n: i}) }()
	}
	waitFor(t, "8 requests to queue", func() bool { return grp.Waiting() == 8 })
	for range 20 {
		if err := grp.Do(ctx, &item{}); !errors.Is(err, groupcommit.ErrOverloaded) {
			t.Fatalf("Do over the bound = %v, want ErrOverloaded", err)
		}
	}
	if n := grp.Waiting(); n != 8 {
		t.Fatalf("waiting = %d, want 8", n)
	}
	close(g.open)
	wg.Wait()
	grp.Wait()
	ran := 0
	for _, b := range g.batches {
		ran += len(b)
		if len(b) > 4 {
			t.Fatalf("a batch of %d, want at most MaxBatch 4", len(b))
		}
	}
	if ran != 9 {
		t.Fatalf("ran %d requests, want the 9 admitted", ran)
	}
}

// TestBatchErrorAndPanicReachEveryWaiter: a batch's error is every
// request's answer; a panic in a batch becomes its error (reported to
// OnPanic) and the group keeps running batches.
func TestBatchErrorAndPanicReachEveryWaiter(t *testing.T) {
	boom := errors.New("boom")
	var panics atomic.Int64
	grp := groupcommit.New(groupcommit.Options{OnPanic: func(any) { panics.Add(1) }}, func(batch []*item) error {
		switch batch[0].n {
		case 1:
			return boom
		case 2:
			panic("driver fault")
		}
		return nil
	})
	ctx := context.Background()
	if err := grp.Do(ctx, &item{n: 1}); !errors.Is(err, boom) {
		t.Fatalf("Do = %v, want the batch's error", err)
	}
	if err := grp.Do(ctx, &item{n: 2}); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("Do after a panic = %v, want an error naming it", err)
	}
	if err := grp.Do(ctx, &item{n: 3}); err != nil {
		t.Fatalf("Do after a panic = %v, want the group still running", err)
	}
	grp.Wait()
	if panics.Load() != 1 {
		t.Fatalf("OnPanic told %d times, want 1", panics.Load())
	}
}

// TestOverlapAtKeepsBatchesLarge: beside a running batch, another starts
// only once OverlapAt requests wait, and it takes them all.
func TestOverlapAtKeepsBatchesLarge(t *testing.T) {
	g := newGate()
	grp := groupcommit.New(groupcommit.Options{MaxRunning: 2, OverlapAt: 3}, g.run)
	ctx := context.Background()
	var wg sync.WaitGroup
	do := func(n int) {
		wg.Add(1)
		go func() { defer wg.Done(); _ = grp.Do(ctx, &item{n: n}) }()
	}
	do(0)
	if size := <-g.started; size != 1 {
		t.Fatalf("first batch of %d, want 1", size)
	}
	do(1)
	do(2)
	waitFor(t, "two requests to queue", func() bool { return grp.Waiting() == 2 })
	do(3) // the third waiting request starts a second batch
	select {
	case size := <-g.started:
		if size != 3 {
			t.Fatalf("second batch of %d, want the 3 waiting", size)
		}
	case <-time.After(deadline):
		t.Fatal("no second batch with 3 requests waiting")
	}
	close(g.open)
	wg.Wait()
	grp.Wait()
	if len(g.batches) != 2 {
		t.Fatalf("batches = %v, want 2", g.batches)
	}
}
