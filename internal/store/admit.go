package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/groupcommit"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// Admissions are group-committed on both engines (groupcommit.Group): the
// admissions that arrive while a batch commits wait and then share the
// next transaction. On SQLite each commit writes every page the inserts
// touched (rows, indexes, the capacity counter) to the WAL, and that write
// was most of an admission's cost; one batch runs at a time, under the
// writer lock. On PostgreSQL a commit waits for its WAL flush; batches run
// several at once on different capacity shards (admit_postgres.go), so
// their commits overlap and PostgreSQL flushes them together. Order is
// kept within a batch, so capacity is decided exactly as one by one. If a
// batch fails, each of its admissions runs again on its own, so one bad
// request cannot fail the others.
//
// No lock is held while waiting for a connection except SQLite's writer
// lock, which no connection holder ever waits for (STYLE.md habit 17): the
// group's mutex only guards its queue, and waiting admissions hold nothing.
const (
	// maxAdmitBatch bounds one batch (its INSERT's size; on SQLite the
	// writer lock's hold).
	maxAdmitBatch = 128
	// admitRunningPostgres is how many PostgreSQL batches run at once:
	// enough to overlap commits (each waits for a WAL flush), few enough
	// that batches stay large and leave the pool's other connections to
	// the rest of the server.
	admitRunningPostgres = 4
	// admitOverlapAtPostgres is how many admissions must wait before a
	// batch starts beside a running one: below it they wait for the next
	// batch, so batches stay large (each is a commit and a WAL flush) until
	// a queue builds up.
	admitOverlapAtPostgres = 8
	// maxAdmitWaiting bounds the admissions waiting for a batch. Beyond
	// it (the database has stalled, or a burst far above what it commits)
	// an admission is refused at once with apperr.Unavailable (HTTP 503,
	// so Twilio retries or uses the number's fallback) instead of queueing
	// without limit.
	maxAdmitWaiting = 1024
	// admitBatchTimeout bounds a PostgreSQL batch, which does not end with
	// any one request's context (others wait on it).
	admitBatchTimeout = 15 * time.Second
)

// newAdmissions is the DB's admission group commit.
func newAdmissions(db *DB) *groupcommit.Group[*admission] {
	running, overlapAt := 1, 1
	if db.Engine == Postgres {
		running, overlapAt = admitRunningPostgres, admitOverlapAtPostgres
	}
	s := &CallStore{db: db}
	return groupcommit.New(groupcommit.Options{
		MaxBatch:   maxAdmitBatch,
		MaxRunning: running,
		OverlapAt:  overlapAt,
		MaxWaiting: maxAdmitWaiting,
		OnPanic:    func(v any) { db.panics.report("admission_batch", v) },
	}, s.runBatch)
}

// errAdmissionsOverloaded is AdmitCall's answer when maxAdmitWaiting
// admissions are already waiting.
var errAdmissionsOverloaded = apperr.Wrap(groupcommit.ErrOverloaded, apperr.Unavailable, "too many calls arriving at once; try again")

// admit runs a through the group commit. Its context ending while it waits
// answers ctx's error at once; the admission was then either not run or
// run by a batch already under way (a retry of the same CallSid then
// finds it stored and gets the same answer).
func (db *DB) admit(ctx context.Context, s *CallStore, a *admission) (voice.Call, bool, error) {
	err := db.admissions.Do(ctx, a)
	switch {
	case errors.Is(err, groupcommit.ErrOverloaded):
		return voice.Call{}, false, errAdmissionsOverloaded
	case err != nil && ctx.Err() != nil:
		return voice.Call{}, false, ctx.Err()
	case err != nil:
		return s.admitOne(admission{ctx: ctx, call: a.call, capacity: a.capacity})
	case !a.ran:
		return voice.Call{}, false, ctx.Err() // skipped: its context had ended
	}
	return a.out, a.created, nil
}

// runBatch runs one batch in one transaction (on SQLite under the writer
// lock). An admission whose context ended while it waited is skipped. The
// transaction ends with no request's context: the batch's others wait on
// it.
func (s *CallStore) runBatch(batch []*admission) error {
	err := s.runBatchOn(batch)
	for _, a := range batch {
		if err == nil && a.outboxed {
			s.db.outboxWritten() // wakes the webhook dispatcher once
			break
		}
	}
	return err
}

// runBatchOn is runBatch on the DB's engine.
func (s *CallStore) runBatchOn(batch []*admission) error {
	if s.db.Engine == Postgres {
		ctx, cancel := context.WithTimeout(context.Background(), admitBatchTimeout)
		defer cancel()
		return s.runBatchPostgres(ctx, batch)
	}
	ctx := context.Background()
	slots := &slotCount{}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, a := range batch {
			if a.ctx.Err() != nil {
				continue // answered with its context's error
			}
			if err := s.admitInTx(ctx, tx, a, slots); err != nil {
				return err
			}
			a.ran = true
		}
		return nil
	})
}

// slotCount is the SQLite capacity counter as one transaction sees it:
// read once, then kept in step with the transaction's own inserts, so the
// admissions of a batch after the first cost no counter read. The writer
// lock makes that exact: nobody else changes the counter until the
// transaction ends.
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

// capacitySQLite reads the call_capacity row, kept equal to the number of
// rows with active = 1 by triggers (migration 00700), so an admission
// reads one row (once per batch), under the cap and at it alike. Stale
// slots are freed by a background sweep (FreeStaleSlots), never by an
// admission, so a busy answer at the cap costs no scan of the live calls
// and does not grow with the cap. PostgreSQL decides capacity on shards
// instead (capacity_shards.go).
const capacitySQLite = `SELECT active FROM call_capacity WHERE id = 1`

// full reports whether every capacity slot is taken, from the SQLite
// counter row alone.
func (s *CallStore) full(ctx context.Context, tx *sql.Tx, capacity *voice.Capacity, slots *slotCount) (bool, error) {
	if !slots.known {
		st, err := s.db.txStmt(ctx, tx, capacitySQLite)
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

// admitOne runs one admission in its own transaction (after its batch
// failed). A delivery of the same call stored concurrently is no error:
// the insert does nothing on a duplicate and the stored call is the
// answer.
func (s *CallStore) admitOne(a admission) (voice.Call, bool, error) {
	var err error
	if s.db.Engine == Postgres {
		err = s.db.InTx(a.ctx, func(tx *sql.Tx) error {
			return s.admitEachPostgres(a.ctx, tx, []*admission{&a})
		})
	} else {
		err = s.db.InTx(a.ctx, func(tx *sql.Tx) error {
			return s.admitInTx(a.ctx, tx, &a, &slotCount{})
		})
	}
	if err != nil {
		return voice.Call{}, false, err
	}
	if a.outboxed {
		s.db.outboxWritten()
	}
	return a.out, a.created, nil
}

// admitInTx is one SQLite admission: c (or its overflow when capacity is
// full) inserted with its webhook event, or the stored call when this is a
// retry. The insert comes first and does nothing on a duplicate CallSid or
// idempotency key, so a new call, the common case, costs no lookup.
func (s *CallStore) admitInTx(ctx context.Context, tx *sql.Tx, a *admission, slots *slotCount) error {
	c := a.call
	if a.capacity != nil && c.Decision == voice.Accept {
		full, err := s.full(ctx, tx, a.capacity, slots)
		if err != nil {
			return err
		}
		if full {
			c = a.capacity.Overflow
		}
	}
	inserted, err := s.insert(ctx, tx, c)
	if err != nil {
		return err
	}
	if inserted {
		slots.inserted(c)
		a.out, a.created = c, true
		// Its webhook event (call.started or call.refused) in the
		// admission's transaction.
		if typ, payload, ok := admissionEvent(c); ok {
			a.outboxed, err = s.db.enqueue(ctx, tx, typ, c.CallSID, payload, c.CreatedAt)
		}
		return err
	}
	existing, err := s.findInTx(ctx, tx, a.call.CallSID, a.call.IdempotencyKey)
	if err != nil {
		return err
	}
	a.out = existing
	return nil
}
