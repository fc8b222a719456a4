package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/voiceagent/voiceagent/internal/voice"
)

// insertCallsPostgres stores a batch of calls in one statement (one round
// trip), each array holding one column in batch order. Unless $20 is
// negative (no call in the batch took a slot on the fast path) it stores
// nothing when some capacity shard holds more than its share of max ($20):
// a slot taken on a shard's own room is exact only when none is over (see
// capacity_shards.go). Rows go in CallSid order: batches running at once
// that hold the same two calls (a retry racing its first delivery) then
// wait for each other's unique-index entries in one order, never in a
// cycle.
const insertCallsPostgres = `INSERT INTO calls (call_sid, account_sid, from_number, to_number, from_country, caller_name,
  decision, reason, status, active, twiml, idempotency_key, created_at, updated_at,
  agent_id, direction, placed_by, end_reason, context, capacity_shard)
SELECT sid, acct, fromn, ton, country, cname, decision, reason, status, active, twiml, NULLIF(idem, ''), created, created,
  agent, direction, placed_by, end_reason, context, shard
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
  $10::bigint[], $11::text[], $12::text[], $13::bigint[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
  $19::int[])
  AS t(sid, acct, fromn, ton, country, cname, decision, reason, status, active, twiml, idem, created,
    agent, direction, placed_by, end_reason, context, shard)
WHERE $20::bigint < 0 OR NOT EXISTS (SELECT 1 FROM call_capacity_shards
  WHERE active > $20::bigint / 32 + CASE WHEN shard < $20::bigint % 32 THEN 1 ELSE 0 END)
ORDER BY sid
ON CONFLICT DO NOTHING`

// callRows are calls as the column arrays of insertCallsPostgres.
type callRows struct {
	sid, acct, from, to, country, name, decision, reason, status, twiml, idem []string
	agent, direction, placedBy, endReason, context                            []string
	active, created                                                           []int64
	shard                                                                     []int32
}

func (r *callRows) add(c voice.Call, shard int) {
	active := int64(0)
	if holdsSlot(c) {
		active = 1
	}
	r.sid = append(r.sid, c.CallSID)
	r.acct = append(r.acct, c.AccountSID)
	r.from = append(r.from, c.From)
	r.to = append(r.to, c.To)
	r.country = append(r.country, c.FromCountry)
	r.name = append(r.name, c.CallerName)
	r.decision = append(r.decision, string(c.Decision))
	r.reason = append(r.reason, c.Reason)
	r.status = append(r.status, c.Status)
	r.active = append(r.active, active)
	r.twiml = append(r.twiml, c.TwiML)
	r.idem = append(r.idem, c.IdempotencyKey)
	r.created = append(r.created, Millis(c.CreatedAt))
	r.agent = append(r.agent, c.AgentID)
	r.direction = append(r.direction, string(directionOf(c)))
	r.placedBy = append(r.placedBy, c.PlacedBy)
	r.endReason = append(r.endReason, string(c.EndReason))
	r.context = append(r.context, c.Context)
	r.shard = append(r.shard, int32(shard))
}

// insert stores the rows and returns how many were new. guardMax is the
// max whose shares no shard may exceed, or -1.
func (r *callRows) insert(ctx context.Context, tx *sql.Tx, guardMax int) (int64, error) {
	res, err := tx.ExecContext(ctx, insertCallsPostgres, r.sid, r.acct, r.from, r.to, r.country, r.name,
		r.decision, r.reason, r.status, r.active, r.twiml, r.idem, r.created,
		r.agent, r.direction, r.placedBy, r.endReason, r.context, r.shard, guardMax)
	if err != nil {
		return 0, translate(err, "call")
	}
	n, err := res.RowsAffected()
	return n, translate(err, "call")
}

// holdsSlot reports whether c, stored, holds a capacity slot (active = 1).
func holdsSlot(c voice.Call) bool { return c.Active && c.Decision == voice.Accept }

// runBatchPostgres runs a batch in one statement when one shard has room
// for all of it (admitInOneStatement), else on the fast path
// (admitAllPostgres) and, when that cannot decide it exactly, again on the
// exact path in a new transaction.
func (s *CallStore) runBatchPostgres(ctx context.Context, batch []*admission) error {
	if done, err := s.admitInOneStatement(ctx, batch); done || err != nil {
		return err
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error { return s.admitAllPostgres(ctx, tx, batch) })
	if !errors.Is(err, errExactPath) {
		return err
	}
	for _, a := range batch {
		a.out, a.created, a.ran, a.outboxed = voice.Call{}, false, false, false
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error { return s.admitEachPostgres(ctx, tx, batch) })
	if err != nil {
		return fmt.Errorf("admission batch, exact path: %w", err)
	}
	return nil
}

// admitAllPostgres is the fast path: a batch in five round trips whatever
// its size (the shard lock, one INSERT, the webhook events' INSERT, and
// the transaction's begin and commit): the batch's capped admissions take
// slots on shards locked with SKIP LOCKED, decided in order in Go as if
// each were a new call, and every call is inserted in one statement. It returns errExactPath, which
// rolls the transaction back, when the batch is not decided exactly this
// way: a call was already stored (a retry, or the same call twice in the
// batch), the admissions ask for different caps or a slot without a cap,
// the room is held by other transactions, or a shard is over its share.
func (s *CallStore) admitAllPostgres(ctx context.Context, tx *sql.Tx, batch []*admission) error {
	max, need := -1, int64(0)
	var live []*admission
	for _, a := range batch {
		if a.ctx.Err() != nil {
			continue // answered with its context's error
		}
		switch {
		case a.capacity != nil && a.call.Decision == voice.Accept:
			if max >= 0 && a.capacity.Max != max {
				return errExactPath
			}
			max = a.capacity.Max
			need++
		case holdsSlot(a.call):
			return errExactPath // a slot without a cap: placed under every shard's lock
		}
		live = append(live, a)
	}
	if len(live) == 0 {
		return nil
	}
	held := &heldShards{}
	if need > 0 {
		var err error
		if held, err = s.claimShards(ctx, tx, max, need); err != nil {
			return err
		}
	}
	guard := -1
	var rows callRows
	for _, a := range live {
		c, shard := a.call, 0
		if a.capacity != nil && c.Decision == voice.Accept {
			if sh, ok := held.take(); ok {
				shard, guard = sh, max
			} else {
				c = a.capacity.Overflow
			}
		}
		if holdsSlot(c) && guard < 0 {
			return errExactPath // an overflow that holds a slot: not ours to place
		}
		rows.add(c, shard)
		a.out = c
	}
	n, err := rows.insert(ctx, tx, guard)
	if err != nil {
		return err
	}
	if n != int64(len(live)) {
		return errExactPath
	}
	for _, a := range live {
		a.created, a.ran = true, true
	}
	// The batch's webhook events (call.started / call.refused) in one
	// more statement of the same transaction.
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

// admitEachPostgres is the exact path: every shard locked in order, then
// each admission in turn inserted (one statement each) or, when its call
// is already stored, answered with the stored call; the total is kept in
// step, so capacity is decided exactly as one by one. A stored call's
// webhook event is written with it.
func (s *CallStore) admitEachPostgres(ctx context.Context, tx *sql.Tx, batch []*admission) error {
	var shards *allShards
	for _, a := range batch {
		if a.ctx.Err() != nil {
			continue
		}
		c, shard := a.call, 0
		if c.Decision == voice.Accept && (a.capacity != nil || holdsSlot(c)) && shards == nil {
			var err error
			if shards, err = lockAllShards(ctx, tx); err != nil {
				return err
			}
		}
		switch {
		case a.capacity != nil && c.Decision == voice.Accept:
			if shards.full(a.capacity.Max) {
				c = a.capacity.Overflow
			} else {
				shard = shards.pick(a.capacity.Max)
			}
		case holdsSlot(c):
			shard = shards.pick(-1)
		}
		var rows callRows
		rows.add(c, shard)
		n, err := rows.insert(ctx, tx, -1)
		if err != nil {
			return err
		}
		if n == 1 {
			if holdsSlot(c) {
				shards.took(shard)
			}
			a.out, a.created, a.ran = c, true, true
			if typ, payload, ok := admissionEvent(c); ok {
				if a.outboxed, err = s.db.enqueue(ctx, tx, typ, c.CallSID, payload, c.CreatedAt); err != nil {
					return err
				}
			}
			continue
		}
		existing, err := s.findInTx(ctx, tx, a.call.CallSID, a.call.IdempotencyKey)
		if err != nil {
			return err
		}
		a.out, a.ran = existing, true
	}
	return nil
}
