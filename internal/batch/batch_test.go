package batch_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voiceagent/voiceagent/internal/batch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sink records batches; gate, when set, holds every Write until closed.
type sink struct {
	mu      sync.Mutex
	batches [][]int
	gate    chan struct{}
	entered chan struct{}
}

func (s *sink) write(_ context.Context, items []int) {
	if s.entered != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
	}
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, append([]int(nil), items...))
}

func (s *sink) items() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, b := range s.batches {
		out = append(out, b...)
	}
	return out
}

type counter struct{ n atomic.Int64 }

func (c *counter) Add(v float64) { c.n.Add(int64(v)) }

// TestWriterIsBoundedAndCountsDrops: with the store stalled, the queue
// takes QueueSize items and drops the rest without blocking, each drop
// counted in the metric and told to Full; what was taken is written once
// the store answers.
func TestWriterIsBoundedAndCountsDrops(t *testing.T) {
	s := &sink{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	drops := &counter{}
	var full atomic.Int64
	w := batch.New(batch.Options[int]{Write: s.write, QueueSize: 4, MaxBatch: 2, Dropped: drops,
		Full: func(_ int, closed bool, total int64) {
			if !closed {
				full.Store(total)
			}
		}})
	w.Add(0)
	<-s.entered // the writer holds item 0 in a stalled Write
	taken := 0
	for i := 1; i <= 10; i++ {
		if w.Add(i) {
			taken++
		}
	}
	if taken != 4 {
		t.Fatalf("queue took %d items while the store stalled, want QueueSize 4", taken)
	}
	if got := w.Dropped(); got != 6 || drops.n.Load() != 6 || full.Load() != 6 {
		t.Fatalf("dropped = %d, metric %d, last Full total %d; want 6 each", got, drops.n.Load(), full.Load())
	}
	close(s.gate)
	w.Close()
	if got := s.items(); len(got) != 5 {
		t.Fatalf("written = %v, want the 5 items taken", got)
	}
	for _, b := range s.batches {
		if len(b) > 2 {
			t.Fatalf("batch %v exceeds MaxBatch 2", b)
		}
	}
}

// TestWriterFlushesOnClose: Close writes everything queued before it
// returns, and an Add after Close is dropped and counted, never a panic.
func TestWriterFlushesOnClose(t *testing.T) {
	s := &sink{}
	drops := &counter{}
	var closedDrops atomic.Int64
	w := batch.New(batch.Options[int]{Write: s.write, QueueSize: 100, MaxBatch: 7, Linger: time.Hour, Dropped: drops,
		Full: func(_ int, closed bool, _ int64) {
			if closed {
				closedDrops.Add(1)
			}
		}})
	for i := range 50 {
		w.Add(i)
	}
	w.Close() // the hour-long linger must not hold Close
	if got := s.items(); len(got) != 50 {
		t.Fatalf("written at Close = %d items, want 50", len(got))
	}
	if w.Add(99) || closedDrops.Load() != 1 || drops.n.Load() != 1 {
		t.Fatalf("Add after Close: dropped told %d, metric %d; want 1 each", closedDrops.Load(), drops.n.Load())
	}
	w.Close() // twice is fine
}

// TestWriterLingerBatches: with a linger, items arriving close together
// share one Write.
func TestWriterLingerBatches(t *testing.T) {
	s := &sink{}
	w := batch.New(batch.Options[int]{Write: s.write, MaxBatch: 100, Linger: time.Hour})
	for i := range 30 {
		w.Add(i)
	}
	w.Close()
	if len(s.batches) != 1 || len(s.batches[0]) != 30 {
		t.Fatalf("batches = %v, want one of 30", s.batches)
	}
}

// TestWriterFlushHonoursContext: Flush waits for what is pending and
// returns the context's error when it ends first.
func TestWriterFlushHonoursContext(t *testing.T) {
	s := &sink{gate: make(chan struct{})}
	w := batch.New(batch.Options[int]{Write: s.write})
	defer w.Close()
	w.Add(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Flush(ctx); err != context.Canceled {
		t.Fatalf("Flush with the store stalled and ctx ended = %v, want context.Canceled", err)
	}
	close(s.gate)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("Flush = %v", err)
	}
	if got := s.items(); len(got) != 1 {
		t.Fatalf("written after Flush = %v", got)
	}
}

// TestWriterWriteGetsATimeout: each Write runs under a context that ends.
func TestWriterWriteGetsATimeout(t *testing.T) {
	var hadDeadline atomic.Bool
	w := batch.New(batch.Options[int]{Timeout: time.Minute, Write: func(ctx context.Context, _ []int) {
		_, ok := ctx.Deadline()
		hadDeadline.Store(ok)
	}})
	w.Add(1)
	w.Close()
	if !hadDeadline.Load() {
		t.Fatal("Write ran without a deadline")
	}
}

// TestWriterContainsAPanic: a Write that panics loses its batch only
// (counted as dropped, told to Panic); later items are written.
func TestWriterContainsAPanic(t *testing.T) {
	var mu sync.Mutex
	var got []int
	var calls int
	drops := &counter{}
	var lost atomic.Int64
	w := batch.New(batch.Options[int]{Dropped: drops, Panic: func(_ any, n int) { lost.Add(int64(n)) },
		Write: func(_ context.Context, items []int) {
			mu.Lock()
			defer mu.Unlock()
			if calls++; calls == 1 {
				panic("injected test panic")
			}
			got = append(got, items...)
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w.Add(1)
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	w.Add(2)
	w.Close()
	if len(got) != 1 || got[0] != 2 || lost.Load() != 1 || drops.n.Load() != 1 || w.Dropped() != 1 {
		t.Fatalf("written %v, lost %d, metric %d, Dropped %d; want [2] and 1 lost", got, lost.Load(), drops.n.Load(), w.Dropped())
	}
}
