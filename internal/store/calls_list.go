package store

import (
	"context"
	"database/sql"

	"github.com/voiceagent/voiceagent/internal/calllog"
)

// CallListStore lists call records for operators (the records themselves
// are written by the inbound-calls store).
type CallListStore struct{ db *DB }

// CallList returns the call-listing store.
func (db *DB) CallList() *CallListStore { return &CallListStore{db: db} }

var _ calllog.Store = (*CallListStore)(nil)

// ListCalls returns calls newest first (ties broken by CallSid), after the
// cursor when one is given. (The CAST makes PostgreSQL type the cursor time
// as BIGINT; compared with a bare 0 it would infer int4.) Status "active" selects live streams, "ended"
// every call with an end time, anything else that exact status.
func (s *CallListStore) ListCalls(ctx context.Context, f calllog.Filter) ([]calllog.Summary, error) {
	var afterAt int64
	var afterSID string
	if f.After != nil {
		afterAt, afterSID = Millis(f.After.CreatedAt), f.After.CallSID
	}
	q := `SELECT call_sid, from_number, to_number, from_country, decision, reason, status, active,
       duration_sec, created_at, answered_at, ended_at
FROM calls
WHERE ($1 = '' OR ($1 = 'active' AND active = 1) OR ($1 = 'ended' AND ended_at IS NOT NULL) OR status = $1)
  AND (CAST($2 AS BIGINT) = 0 OR created_at < $2 OR (created_at = $2 AND call_sid < $3))
ORDER BY created_at DESC, call_sid DESC
LIMIT $4`
	rows, err := s.db.SQL.QueryContext(ctx, q, f.Status, afterAt, afterSID, f.Limit)
	if err != nil {
		return nil, translate(err, "calls")
	}
	defer rows.Close()
	var out []calllog.Summary
	for rows.Next() {
		var c calllog.Summary
		var active, created int64
		var dur, answered, ended sql.NullInt64
		if err := rows.Scan(&c.CallSID, &c.From, &c.To, &c.FromCountry, &c.Decision, &c.Reason, &c.Status, &active,
			&dur, &created, &answered, &ended); err != nil {
			return nil, translate(err, "calls")
		}
		c.Active = active == 1
		c.CreatedAt = FromMillis(created)
		if dur.Valid {
			c.DurationSec = &dur.Int64
		}
		if answered.Valid {
			t := FromMillis(answered.Int64)
			c.AnsweredAt = &t
		}
		if ended.Valid {
			t := FromMillis(ended.Int64)
			c.EndedAt = &t
		}
		out = append(out, c)
	}
	return out, translate(rows.Err(), "calls")
}
