package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/groupcommit"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// On PostgreSQL the caller-list lookups of /voice/incoming (CallerStatus,
// one per call, before its decision) are batched like admissions: the
// lookups that arrive while a query runs share the next one. A query per
// call was a round trip, a PostgreSQL statement and a context watcher
// goroutine per call (15 % of the server's CPU on the webhook path, and as
// many statements as the admissions and audit rows together). A lookup
// never reads an older snapshot than a query of its own would: a batch
// only takes lookups that were waiting when it starts, so its statement
// begins after each of them arrived and sees every list change committed
// before it. SQLite reads its local file in microseconds and keeps a query
// per call.
const (
	// maxCallerLookupBatch bounds one query's array.
	maxCallerLookupBatch = 256
	// callerLookupsRunning is how many batched queries run at once; a
	// lookup waits at most for one query under way.
	callerLookupsRunning = 2
	// callerLookupsOverlapAt is how many lookups must wait before a second
	// query starts beside a running one. At 4 a second query ran for
	// almost every burst (3.5 lookups per query under make load-pg); at 16
	// the waiting lookups mostly share the next one (4.5 per query, a
	// fifth fewer statements), which cost less CPU on both sides in three
	// alternated pairs without a longer tail (BENCHMARKS.md, issue 16).
	callerLookupsOverlapAt = 16
	// maxCallerLookupsWaiting bounds the lookups waiting; beyond it a call
	// is answered apperr.Unavailable at once, as admissions are.
	maxCallerLookupsWaiting = 1024
	// callerLookupTimeout bounds a batched query, which does not end with
	// any one request's context.
	callerLookupTimeout = 10 * time.Second
)

// callerStatusBatchPostgres reads the standing of each number of $1 (in
// order, one row each): on the deny list, on the allow list, and whether
// the allow list is in use. Each is a lookup on the primary key (list,
// number); the last is evaluated once per query. The array is read
// through a subquery so that the planner cannot see its length: with the
// length known, every execution was planned anew (a custom plan looks
// cheaper by its row estimate; planning showed in PostgreSQL's profile
// under this load); hidden, the prepared statement keeps one generic plan.
const callerStatusBatchPostgres = `SELECT
  EXISTS (SELECT 1 FROM caller_lists c WHERE c.list = 'blocked' AND c.number = u.n),
  EXISTS (SELECT 1 FROM caller_lists c WHERE c.list = 'allowed' AND c.number = u.n),
  EXISTS (SELECT 1 FROM caller_lists c WHERE c.list = 'allowed')
FROM unnest((SELECT $1::text[])) WITH ORDINALITY AS u(n, i)
ORDER BY u.i`

// callerLookup is one CallerStatus request and, once its batch ran, its
// answer.
type callerLookup struct {
	ctx    context.Context
	number string
	out    voice.CallerStatus
	ran    bool
}

// newCallerLookups is the DB's batch of caller-list lookups (PostgreSQL).
func newCallerLookups(db *DB) *groupcommit.Group[*callerLookup] {
	s := &CallerStore{db: db}
	return groupcommit.New(groupcommit.Options{
		MaxBatch:   maxCallerLookupBatch,
		MaxRunning: callerLookupsRunning,
		OverlapAt:  callerLookupsOverlapAt,
		MaxWaiting: maxCallerLookupsWaiting,
		OnPanic:    func(v any) { db.panics.report("caller_lookup_batch", v) },
	}, s.lookupBatch)
}

// errCallerLookupsOverloaded is CallerStatus's answer when
// maxCallerLookupsWaiting lookups are already waiting.
var errCallerLookupsOverloaded = apperr.Wrap(groupcommit.ErrOverloaded, apperr.Unavailable, "too many calls arriving at once; try again")

// callerStatusBatched runs one lookup through the batch.
func (s *CallerStore) callerStatusBatched(ctx context.Context, number string) (voice.CallerStatus, error) {
	l := &callerLookup{ctx: ctx, number: number}
	err := s.db.callerLookups.Do(ctx, l)
	switch {
	case errors.Is(err, groupcommit.ErrOverloaded):
		return voice.CallerStatus{}, errCallerLookupsOverloaded
	case err != nil && ctx.Err() != nil:
		return voice.CallerStatus{}, ctx.Err()
	case err != nil:
		// The batch failed: this lookup runs again on its own, so one
		// number the database refuses cannot fail the calls batched with it.
		return s.callerStatusOne(ctx, number)
	case !l.ran:
		return voice.CallerStatus{}, ctx.Err() // skipped: its context had ended
	}
	return l.out, nil
}

// lookupBatch answers a batch of lookups with one query. A lookup whose
// context ended while it waited is skipped.
func (s *CallerStore) lookupBatch(batch []*callerLookup) error {
	live := make([]*callerLookup, 0, len(batch))
	numbers := make([]string, 0, len(batch))
	for _, l := range batch {
		if l.ctx.Err() != nil {
			continue
		}
		live = append(live, l)
		numbers = append(numbers, l.number)
	}
	if len(live) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), callerLookupTimeout)
	defer cancel()
	rows, err := s.db.SQL.QueryContext(ctx, callerStatusBatchPostgres, numbers)
	if err != nil {
		return fmt.Errorf("caller list lookups: %w", err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		if i == len(live) {
			return fmt.Errorf("caller list lookups: more rows than the %d numbers asked", len(live))
		}
		st := &live[i].out
		if err := rows.Scan(&st.Blocked, &st.Allowed, &st.AllowListInUse); err != nil {
			return fmt.Errorf("caller list lookups: %w", err)
		}
		i++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("caller list lookups: %w", err)
	}
	if i != len(live) {
		return fmt.Errorf("caller list lookups: %d rows for %d numbers", i, len(live))
	}
	for _, l := range live {
		l.ran = true
	}
	return nil
}
