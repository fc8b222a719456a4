package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/voiceagent/voiceagent/internal/voice"
)

// insertCallsPostgres stores a batch of calls in one statement (one round
// trip), each array holding one column in batch order.
const insertCallsPostgres = `INSERT INTO calls (call_sid, account_sid, from_number, to_number, from_country, caller_name,
  decision, reason, status, active, twiml, idempotency_key, created_at, updated_at,
  agent_id, direction, placed_by, end_reason, context)
SELECT sid, acct, fromn, ton, country, cname, decision, reason, status, active, twiml, NULLIF(idem, ''), created, created,
  agent, direction, placed_by, end_reason, context
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
  $10::bigint[], $11::text[], $12::text[], $13::bigint[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[])
  AS t(sid, acct, fromn, ton, country, cname, decision, reason, status, active, twiml, idem, created,
    agent, direction, placed_by, end_reason, context)
ON CONFLICT DO NOTHING`

// errBatchHadRetries rolls back a one-statement batch in which some call
// was already stored (a retry): its slot was counted as taken, so the
// batch runs again admission by admission.
var errBatchHadRetries = errors.New("admission batch holds a retry")

// admitAllPostgres is a PostgreSQL batch in four round trips whatever its
// size: lock and read the counter, decide every admission in order in Go
// (as if each were a new call), insert them all in one statement, commit.
// Decisions are exact when every row was new, the common case; when one
// was already stored (a retry, or the same call twice in the batch) the
// transaction is rolled back and the caller runs the batch one by one,
// which reads the stored answer for those.
func (s *CallStore) admitAllPostgres(ctx context.Context, tx *sql.Tx, batch []*admission) error {
	slots := &slotCount{}
	var cols struct {
		sid, acct, from, to, country, name, decision, reason, status, twiml, idem []string
		agent, direction, placedBy, endReason, context                            []string
		active, created                                                           []int64
	}
	var live []*admission
	for _, a := range batch {
		if a.ctx.Err() != nil {
			continue // answered with its context's error
		}
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
		slots.inserted(c)
		active := int64(0)
		if c.Active && c.Decision == voice.Accept {
			active = 1
		}
		cols.sid = append(cols.sid, c.CallSID)
		cols.acct = append(cols.acct, c.AccountSID)
		cols.from = append(cols.from, c.From)
		cols.to = append(cols.to, c.To)
		cols.country = append(cols.country, c.FromCountry)
		cols.name = append(cols.name, c.CallerName)
		cols.decision = append(cols.decision, string(c.Decision))
		cols.reason = append(cols.reason, c.Reason)
		cols.status = append(cols.status, c.Status)
		cols.active = append(cols.active, active)
		cols.twiml = append(cols.twiml, c.TwiML)
		cols.idem = append(cols.idem, c.IdempotencyKey)
		cols.created = append(cols.created, Millis(c.CreatedAt))
		cols.agent = append(cols.agent, c.AgentID)
		cols.direction = append(cols.direction, string(directionOf(c)))
		cols.placedBy = append(cols.placedBy, c.PlacedBy)
		cols.endReason = append(cols.endReason, string(c.EndReason))
		cols.context = append(cols.context, c.Context)
		a.out = c
		live = append(live, a)
	}
	if len(live) == 0 {
		return nil
	}
	res, err := tx.ExecContext(ctx, insertCallsPostgres, cols.sid, cols.acct, cols.from, cols.to, cols.country, cols.name,
		cols.decision, cols.reason, cols.status, cols.active, cols.twiml, cols.idem, cols.created,
		cols.agent, cols.direction, cols.placedBy, cols.endReason, cols.context)
	if err != nil {
		return translate(err, "call")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err, "call")
	}
	if n != int64(len(live)) {
		return errBatchHadRetries
	}
	for _, a := range live {
		a.created = true
	}
	// Webhooks (issue 15): call.started / call.refused of the whole
	// batch in one more statement of the same transaction.
	calls := make([]voice.Call, len(live))
	for i, a := range live {
		calls[i] = a.out
	}
	wrote, err := s.db.enqueueAdmissionsPostgres(ctx, tx, calls)
	if err != nil {
		return err
	}
	live[0].outboxed = wrote
	return nil
}

// runBatchPostgres runs a batch in one statement (admitAllPostgres) and,
// when it held a retry, again admission by admission in a new transaction.
func (s *CallStore) runBatchPostgres(ctx context.Context, batch []*admission) error {
	err := s.db.inTxLocked(ctx, func(tx *sql.Tx) error { return s.admitAllPostgres(ctx, tx, batch) })
	if !errors.Is(err, errBatchHadRetries) {
		return err
	}
	for _, a := range batch {
		a.out, a.created, a.outboxed = voice.Call{}, false, false
	}
	err = s.db.inTxLocked(ctx, func(tx *sql.Tx) error {
		slots := &slotCount{}
		for _, a := range batch {
			if a.ctx.Err() != nil {
				continue
			}
			if err := s.admitInTx(ctx, tx, a, slots); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("admission batch, one by one: %w", err)
	}
	return nil
}
