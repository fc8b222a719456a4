package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// On PostgreSQL the capacity counter is split into capacityShards rows
// (call_capacity_shards, migration 01500), each allowed a fixed share of
// MAX_CONCURRENT_CALLS: max / capacityShards, and one more for the first
// max % capacityShards shards. The shares add up to max, so as long as no
// shard holds more than its share the calls together hold at most max.
// calls.capacity_shard names the shard a call's slot counts on; a trigger
// keeps each shard's counter equal to its calls with active = 1.
//
// An admission batch takes a shard with room with FOR UPDATE SKIP LOCKED
// (never waiting for a shard another transaction holds), so batches of one
// instance and of several commit in parallel, each on its own shard, and
// PostgreSQL flushes their commits to the WAL together. When the shards a
// batch could take have no room left but some shard held by another
// transaction has, or some shard is over its share (the cap was lowered,
// or a call was let in without a cap), the batch runs again on the exact
// path instead: every shard locked in shard order (lockAllShards) and the
// total compared with max, as with a single counter.
//
// Deadlocks: the fast path never waits for a shard while holding one (SKIP
// LOCKED), the exact path takes shards in ascending order, and so does the
// stale-slot sweep (FreeStaleSlots); a status callback or stream end
// touches one shard.
const capacityShards = 32

// shardQuota is the part of max that shard may hold.
func shardQuota(shard int, max int) int64 {
	q := int64(max / capacityShards)
	if shard < max%capacityShards {
		q++
	}
	return q
}

// quotaSQL is shardQuota in SQL, for the shard column and max as $1.
const quotaSQL = `($1::bigint / 32 + CASE WHEN shard < $1::bigint % 32 THEN 1 ELSE 0 END)`

// claimShardSQL locks the shard with the most room under max ($1) that no
// other transaction holds, leaving out the shards in $2 (held already).
const claimShardSQL = `SELECT shard, active FROM call_capacity_shards
WHERE active < ` + quotaSQL + ` AND shard <> ALL($2::int[])
ORDER BY ` + quotaSQL + ` - active DESC, shard
LIMIT 1 FOR UPDATE SKIP LOCKED`

// roomElsewhereSQL is the room under max ($1) left on the shards not in
// $2, held by other transactions or not (a plain read: it decides only
// whether to take the exact path).
const roomElsewhereSQL = `SELECT COALESCE(SUM(GREATEST(` + quotaSQL + ` - active, 0)), 0)::bigint
FROM call_capacity_shards WHERE shard <> ALL($2::int[])`

// heldShards are the shards a fast-path transaction holds, with the room
// each has left for the batch.
type heldShards struct {
	ids  []int32
	room []int64
}

func (h *heldShards) total() int64 {
	var n int64
	for _, r := range h.room {
		n += r
	}
	return n
}

// take uses one slot of a held shard and returns the shard, or false when
// the held shards are full.
func (h *heldShards) take() (int, bool) {
	for i, r := range h.room {
		if r > 0 {
			h.room[i]--
			return int(h.ids[i]), true
		}
	}
	return 0, false
}

// errExactPath rolls back a fast-path batch that cannot be decided on the
// shards it holds: it held a retry, room is left only on shards other
// transactions hold, or a shard is over its share. The batch runs again on
// the exact path.
var errExactPath = errors.New("admission batch needs the exact capacity path")

// claimShards locks shards with room under max (SKIP LOCKED) until their
// room covers need or none is left, and then, if it still falls short,
// reports errExactPath when any other shard has room: whether that room
// will be taken is known only once its holder commits.
func (s *CallStore) claimShards(ctx context.Context, tx *sql.Tx, max int, need int64) (*heldShards, error) {
	h := &heldShards{ids: []int32{}}
	for h.total() < need {
		var shard int32
		var active int64
		err := tx.QueryRowContext(ctx, claimShardSQL, max, h.ids).Scan(&shard, &active)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return nil, translate(err, "call capacity")
		}
		h.ids = append(h.ids, shard)
		h.room = append(h.room, shardQuota(int(shard), max)-active)
	}
	if h.total() >= need {
		return h, nil
	}
	var elsewhere int64
	if err := tx.QueryRowContext(ctx, roomElsewhereSQL, max, h.ids).Scan(&elsewhere); err != nil {
		return nil, translate(err, "call capacity")
	}
	if elsewhere > 0 {
		return nil, errExactPath
	}
	return h, nil
}

// allShards is every shard's counter, read under lock by the exact path.
type allShards struct {
	active [capacityShards]int64
	total  int64
}

// lockAllShards locks every shard in shard order (waiting for their
// holders) and reads their counters: from then on the total is exact
// until the transaction ends.
func lockAllShards(ctx context.Context, tx *sql.Tx) (*allShards, error) {
	rows, err := tx.QueryContext(ctx, `SELECT shard, active FROM call_capacity_shards ORDER BY shard FOR UPDATE`)
	if err != nil {
		return nil, translate(err, "call capacity")
	}
	defer rows.Close()
	a := &allShards{}
	n := 0
	for rows.Next() {
		var shard int
		var active int64
		if err := rows.Scan(&shard, &active); err != nil {
			return nil, translate(err, "call capacity")
		}
		if shard < 0 || shard >= capacityShards {
			return nil, fmt.Errorf("call capacity: shard %d out of range", shard)
		}
		a.active[shard] = active
		a.total += active
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "call capacity")
	}
	if n != capacityShards {
		return nil, fmt.Errorf("call capacity: %d shards, want %d", n, capacityShards)
	}
	return a, nil
}

// full reports whether max slots are taken.
func (a *allShards) full(max int) bool { return a.total >= int64(max) }

// pick returns the shard for a new slot: the one with the most room under
// max, or, when every shard is at its share (possible only when some are
// over it), the least loaded one. The caller checked the total first.
func (a *allShards) pick(max int) int {
	best, bestRoom := 0, int64(-1<<62)
	for i, n := range a.active {
		room := shardQuota(i, max) - n
		if max < 0 {
			room = -n
		}
		if room > bestRoom {
			best, bestRoom = i, room
		}
	}
	return best
}

// took counts a slot taken on shard.
func (a *allShards) took(shard int) {
	a.active[shard]++
	a.total++
}
