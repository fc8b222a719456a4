package store

import (
	"context"
	"strings"

	"github.com/voiceagent/voiceagent/internal/voice"
)

// admitOneStatementPostgres is the common case of a PostgreSQL batch in
// one statement and so one round trip, committed on its own (no BEGIN or
// COMMIT): it locks a shard whose room covers every capped admission of
// the batch (SKIP LOCKED), and, when no shard is over its share, inserts
// every call on it. With the room covering the whole batch no admission is
// turned away, so a call found already stored (a retry) changes no other
// decision, and its stored answer is read afterwards. $20 is max, $21 the
// slots needed, $22-$25 the webhook events of the calls (outboxOfInserted:
// written for the calls inserted only, in the same statement), $26 whether
// they were sent: when not (the last batch found no subscription), nothing
// is stored if an enabled subscription exists now, and the batch goes to
// the transaction path, which writes its events. The row holds whether a
// shard was taken, the CallSids inserted, comma-separated (a CallSid is
// letters and digits), how many outbox rows were written, and whether an
// enabled subscription exists.
var admitOneStatementPostgres = `WITH claim AS (
  SELECT shard FROM call_capacity_shards
  WHERE ` + quotaOf("$20") + ` - active >= $21::bigint
  ORDER BY ` + quotaOf("$20") + ` - active DESC, shard
  LIMIT 1 FOR UPDATE SKIP LOCKED),
ok AS (SELECT shard FROM claim
  WHERE NOT EXISTS (SELECT 1 FROM call_capacity_shards WHERE active > ` + quotaOf("$20") + `)
    AND ($26::boolean OR NOT EXISTS (` + enabledSubscription + `))),
ins AS (
  INSERT INTO calls (call_sid, account_sid, from_number, to_number, from_country, caller_name,
    decision, reason, status, active, twiml, idempotency_key, created_at, updated_at,
    agent_id, direction, placed_by, end_reason, context, capacity_shard)
  SELECT sid, acct, fromn, ton, country, cname, decision, reason, status, active, twiml, NULLIF(idem, ''), created, created,
    agent, direction, placed_by, end_reason, context, ok.shard
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
    $10::bigint[], $11::text[], $12::text[], $13::bigint[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
    $19::int[])
    AS t(sid, acct, fromn, ton, country, cname, decision, reason, status, active, twiml, idem, created,
      agent, direction, placed_by, end_reason, context, shard), ok
  ORDER BY sid
  ON CONFLICT DO NOTHING
  RETURNING call_sid),
ev AS (` + outboxOfInserted + `
  RETURNING 1)
SELECT (SELECT COUNT(*) FROM ok), (SELECT COALESCE(string_agg(call_sid, ','), '') FROM ins), (SELECT COUNT(*) FROM ev),
  EXISTS (` + enabledSubscription + `)`

// enabledSubscription finds an enabled webhook subscription.
const enabledSubscription = `SELECT 1 FROM webhook_subscriptions WHERE disabled_at IS NULL`

// quotaOf is shardQuota in SQL for the shard column and max as param.
func quotaOf(param string) string { return strings.ReplaceAll(quotaSQL, "$1", param) }

// admitInOneStatement runs a batch with admitOneStatementPostgres when it
// qualifies: every admission capped at the same max, at least one capped,
// no call twice in the batch (a retry racing its first delivery would make
// "which of the two was stored" matter), no slot without a cap. done is
// false when the batch did not qualify or no shard had room for all of it:
// nothing was written, and the caller runs the transaction path.
func (s *CallStore) admitInOneStatement(ctx context.Context, batch []*admission) (done bool, err error) {
	max, need := -1, int64(0)
	seen := make(map[string]bool, 2*len(batch))
	var live []*admission
	for _, a := range batch {
		if a.ctx.Err() != nil {
			continue
		}
		c := a.call
		switch {
		case a.capacity != nil && c.Decision == voice.Accept:
			if max >= 0 && a.capacity.Max != max {
				return false, nil
			}
			max = a.capacity.Max
			need++
		case holdsSlot(c):
			return false, nil
		}
		if seen["s"+c.CallSID] || (c.IdempotencyKey != "" && seen["i"+c.IdempotencyKey]) {
			return false, nil
		}
		seen["s"+c.CallSID], seen["i"+c.IdempotencyKey] = true, c.IdempotencyKey != ""
		live = append(live, a)
	}
	if need == 0 {
		return false, nil
	}
	var rows callRows
	for _, a := range live {
		rows.add(a.call, 0)
	}
	// The webhook events (a JSON payload each) are built and sent only
	// while subscriptions may exist: with none, the statement would join
	// them with nothing.
	var evs eventColumns
	withEvents := !s.db.noWebhooks.Load()
	if withEvents {
		calls := make([]voice.Call, len(live))
		for i, a := range live {
			calls[i] = a.call
		}
		evs = admissionEvents(calls)
	}
	var claimed, outboxed int
	var inserted string
	var subscribed bool
	err = s.db.SQL.QueryRowContext(ctx, admitOneStatementPostgres, rows.sid, rows.acct, rows.from, rows.to, rows.country, rows.name,
		rows.decision, rows.reason, rows.status, rows.active, rows.twiml, rows.idem, rows.created,
		rows.agent, rows.direction, rows.placedBy, rows.endReason, rows.context, rows.shard, max, need,
		evs.hex, evs.typ, evs.payload, evs.bit, withEvents).Scan(&claimed, &inserted, &outboxed, &subscribed)
	if err != nil {
		return false, translate(err, "call")
	}
	s.db.noWebhooks.Store(!subscribed)
	if claimed == 0 {
		return false, nil
	}
	live[0].outboxed = outboxed > 0
	stored := make(map[string]bool, len(live))
	for sid := range strings.SplitSeq(inserted, ",") {
		stored[sid] = true
	}
	for _, a := range live {
		if stored[a.call.CallSID] {
			a.out, a.created, a.ran = a.call, true, true
			continue
		}
		existing, err := s.FindCall(ctx, a.call.CallSID, a.call.IdempotencyKey)
		if err != nil {
			return true, err
		}
		a.out, a.ran = existing, true
	}
	return true, nil
}
