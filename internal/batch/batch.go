// Package batch provides Writer, a bounded queue drained by one goroutine
// that hands its items to a store in batches, so producers on a request or
// media path never wait on the database. A full queue drops the item and
// counts it; nothing blocks.
package batch

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Counter is the drop metric a Writer raises (a prometheus.Counter).
type Counter interface{ Add(float64) }

// Options configure a Writer. Write is required.
type Options[T any] struct {
	// Write stores one batch, from the writer goroutine; ctx ends after
	// Timeout. A panic is contained: the batch counts as dropped, Panic
	// is told, and the writer goes on with the next batch.
	Write func(ctx context.Context, items []T)
	// QueueSize bounds the items waiting to be written (default 1024).
	QueueSize int
	// MaxBatch bounds the items of one Write (default 64).
	MaxBatch int
	// Linger is how long the writer waits for more items after the first
	// of a batch (0: it takes only what is already queued). Under load
	// one Write then carries many items and shares the commit cost.
	Linger time.Duration
	// Timeout bounds each Write (default 10 s).
	Timeout time.Duration
	// Dropped counts every item that will never be written: queue full,
	// added after Close, or lost in a Write that panicked (nil: none).
	Dropped Counter
	// Full is told each item the full queue (or a closed writer) refused,
	// with the writer's drop total; it runs on the producer's goroutine
	// and must not block.
	Full func(item T, closed bool, total int64)
	// Panic is told a Write panicked and how many items were lost; it
	// runs on the writer goroutine and may Add.
	Panic func(v any, lost int)
}

// Writer is a bounded batch writer. Add never blocks; Close writes what
// is queued and stops the goroutine.
type Writer[T any] struct {
	o       Options[T]
	queue   chan T
	done    chan struct{}
	dropped atomic.Int64
	pending atomic.Int64 // added and not yet written or dropped

	// closeMu lets Add run concurrently with itself but never with
	// Close, so a late Add is dropped instead of sending on the closed
	// queue.
	closeMu sync.RWMutex
	closed  bool
	once    sync.Once
}

// New starts the writer goroutine.
func New[T any](o Options[T]) *Writer[T] {
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 64
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	w := &Writer[T]{o: o, queue: make(chan T, o.QueueSize), done: make(chan struct{})}
	go w.run()
	return w
}

// Add queues item and reports whether it was taken; a full queue or a
// closed writer drops it (counted, and told to Full).
func (w *Writer[T]) Add(item T) bool {
	w.closeMu.RLock()
	defer w.closeMu.RUnlock()
	if w.closed {
		w.drop(item, true)
		return false
	}
	w.pending.Add(1)
	select {
	case w.queue <- item:
		return true
	default:
		w.pending.Add(-1)
		w.drop(item, false)
		return false
	}
}

func (w *Writer[T]) drop(item T, closed bool) {
	total := w.lose(1)
	if w.o.Full != nil {
		w.o.Full(item, closed, total)
	}
}

// lose counts n items that will never be written and returns the total.
func (w *Writer[T]) lose(n int) int64 {
	if w.o.Dropped != nil {
		w.o.Dropped.Add(float64(n))
	}
	return w.dropped.Add(int64(n))
}

// Dropped reports how many items were never written.
func (w *Writer[T]) Dropped() int64 { return w.dropped.Load() }

// Flush waits until every item added before the call (and any added
// meanwhile) is written or dropped, or ctx ends (its error).
func (w *Writer[T]) Flush(ctx context.Context) error {
	if w.pending.Load() == 0 {
		return nil
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for w.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.done:
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// Close writes what is queued and stops the writer; later Adds are
// dropped. It is safe to call more than once.
func (w *Writer[T]) Close() {
	w.once.Do(func() {
		w.closeMu.Lock()
		w.closed = true
		close(w.queue)
		w.closeMu.Unlock()
	})
	<-w.done
}

// run is the writer goroutine.
func (w *Writer[T]) run() {
	defer close(w.done)
	batch := make([]T, 0, w.o.MaxBatch)
	var linger *time.Timer
	if w.o.Linger > 0 {
		linger = time.NewTimer(w.o.Linger)
		linger.Stop()
	}
	for item := range w.queue {
		batch = append(batch[:0], item)
		w.fill(&batch, linger)
		w.write(batch)
		clear(batch) // items (personal text) do not linger in memory
	}
}

// fill adds queued items to batch up to MaxBatch: what is queued now, or
// what arrives within Linger.
func (w *Writer[T]) fill(batch *[]T, linger *time.Timer) {
	if linger != nil {
		linger.Reset(w.o.Linger)
		defer linger.Stop()
	}
	for len(*batch) < w.o.MaxBatch {
		if linger == nil {
			select {
			case item, ok := <-w.queue:
				if !ok {
					return
				}
				*batch = append(*batch, item)
			default:
				return
			}
			continue
		}
		select {
		case item, ok := <-w.queue:
			if !ok {
				return
			}
			*batch = append(*batch, item)
		case <-linger.C:
			return
		}
	}
}

// write hands one batch to Write, containing a panic: the batch is lost
// (counted), Panic is told, and the writer goes on.
func (w *Writer[T]) write(batch []T) {
	defer func() {
		if v := recover(); v != nil {
			w.lose(len(batch))
			if w.o.Panic != nil {
				w.o.Panic(v, len(batch))
			}
		}
		w.pending.Add(-int64(len(batch)))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), w.o.Timeout)
	defer cancel()
	w.o.Write(ctx, batch)
}
