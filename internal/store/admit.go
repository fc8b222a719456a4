package store

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/voiceagent/voiceagent/internal/voice"
)

// admitBatch is group commit for admissions, on both engines. On SQLite
// each commit writes every page the insert touched (the row, its indexes,
// the capacity counter) to the WAL, and that write was most of an
// admission's cost. On PostgreSQL every admission locked the one capacity
// counter row (call_capacity, FOR UPDATE) for a round trip and a commit,
// so admissions queued on commit latency (about 600-960 a second, issue
// 16). So admissions that arrive while one batch is being committed wait,
// and the first of them then runs them all (up to maxAdmitBatch) in one
// transaction, taking the counter row once (and hands the lead to the next
// waiting admission, so no request serves others for long). Order is
// kept, so capacity is decided exactly as one by one, and across
// PostgreSQL instances the row lock still orders the batches. If a batch
// fails, each of its admissions runs again on its own, so one bad request
// cannot fail the others.
//
// No lock is held while waiting for a connection except SQLite's writer
// lock, which no connection holder ever waits for (STYLE.md habit 17):
// mu only guards the queue, and waiting admissions hold nothing.
type admitBatch struct {
	mu      sync.Mutex
	running bool // a leader is running a batch
	pending []*admission
}

// maxAdmitBatch bounds one batch: the counter row's lock is held for the
// batch's round trips, and admissions of other instances wait for it.
const maxAdmitBatch = 128

// admitBatchTimeout bounds a PostgreSQL batch, which does not end with its
// leader's request (the others wait on it).
const admitBatchTimeout = 15 * time.Second

func (b *admitBatch) admit(s *CallStore, a admission) (voice.Call, bool, error) {
	a.wake = make(chan struct{}, 1)
	b.mu.Lock()
	b.pending = append(b.pending, &a)
	lead := !b.running
	b.running = true
	b.mu.Unlock()
	if !lead {
		<-a.wake // done by a leader, or asked to lead
	}
	if !a.done {
		b.lead(s, &a)
	}
	if err := a.ctx.Err(); err != nil && !a.created {
		return voice.Call{}, false, err
	}
	if a.err != nil {
		return s.admitOne(admission{ctx: a.ctx, call: a.call, capacity: a.capacity})
	}
	return a.out, a.created, nil
}

// lead runs the oldest pending admissions (self first among them) in one
// batch, then wakes them and passes the lead on to the first admission
// still waiting.
func (b *admitBatch) lead(s *CallStore, self *admission) {
	b.mu.Lock()
	n := min(len(b.pending), maxAdmitBatch)
	batch := append([]*admission(nil), b.pending[:n]...)
	b.pending = append(b.pending[:0], b.pending[n:]...)
	b.mu.Unlock()

	unlock := s.db.lockWrites()
	s.runBatch(self.ctx, batch)
	unlock()
	for _, a := range batch {
		if a.err == nil && a.outboxed {
			s.db.outboxWritten() // webhooks: wake the dispatcher once
			break
		}
	}

	b.mu.Lock()
	if len(b.pending) > 0 {
		b.pending[0].wake <- struct{}{}
	} else {
		b.running = false
	}
	b.mu.Unlock()
	for _, a := range batch {
		if a != self {
			a.wake <- struct{}{}
		}
	}
}

// runBatch runs a batch in one transaction; on SQLite the caller holds
// writeMu. A request whose context ended while queued is not run. The
// transaction does not end with the leader's context: the others are
// waiting on it.
func (s *CallStore) runBatch(ctx context.Context, batch []*admission) {
	txCtx := context.WithoutCancel(ctx)
	if s.db.Engine == Postgres {
		var cancel context.CancelFunc
		txCtx, cancel = context.WithTimeout(txCtx, admitBatchTimeout)
		defer cancel()
	}
	if s.db.Engine == Postgres {
		err := s.runBatchPostgres(txCtx, batch)
		for _, a := range batch {
			a.err, a.done = err, true
		}
		return
	}
	slots := &slotCount{}
	err := s.db.inTxLocked(txCtx, func(tx *sql.Tx) error {
		for _, a := range batch {
			if a.ctx.Err() != nil {
				continue // answered with its context's error
			}
			if err := s.admitInTx(txCtx, tx, a, slots); err != nil {
				return err
			}
		}
		return nil
	})
	for _, a := range batch {
		a.err, a.done = err, true
	}
}

// slotCount is the capacity counter as one transaction sees it: read (and,
// on PostgreSQL, locked) once, then kept in step with the transaction's
// own inserts and frees, so the admissions of a batch after the first
// cost no counter read. The lock makes that exact: nobody else changes the
// counter until the transaction ends.
type slotCount struct {
	known bool
	n     int64
}

// inserted counts the slot a stored call takes (as the triggers of
// migration 00700 do).
func (sc *slotCount) inserted(c voice.Call) {
	if sc.known && c.Active && c.Decision == voice.Accept {
		sc.n++
	}
}

// Capacity queries: the call_capacity row is kept equal to the number of
// rows with active = 1 by triggers (migration 00700), so an admission
// reads one row (once per batch), under the cap and at it alike. Stale
// slots are freed by a background sweep (FreeStaleSlots), never by an
// admission: at the cap every admission used to scan the live calls, and
// the busy answer cost grew with the cap (issue 17). FOR UPDATE
// serialises admissions across PostgreSQL instances.
const (
	capacitySQLite   = `SELECT active FROM call_capacity WHERE id = 1`
	capacityPostgres = `SELECT active FROM call_capacity WHERE id = 1 FOR UPDATE`
)

// full reports whether every capacity slot is taken, from the counter row
// alone.
func (s *CallStore) full(ctx context.Context, tx *sql.Tx, capacity *voice.Capacity, slots *slotCount) (bool, error) {
	if !slots.known {
		q := capacitySQLite
		if s.db.Engine == Postgres {
			q = capacityPostgres
		}
		st, err := s.db.txStmt(ctx, tx, q)
		if err != nil {
			return false, translate(err, "call capacity")
		}
		if err := st.QueryRowContext(ctx).Scan(&slots.n); err != nil {
			return false, translate(err, "call capacity")
		}
		slots.known = true
	}
	return slots.n >= int64(capacity.Max), nil
}
