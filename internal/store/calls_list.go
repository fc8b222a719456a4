package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/voiceagent/voiceagent/internal/calllog"
)

// CallListStore lists call records for operators (the records themselves
// are written by the inbound-calls store).
type CallListStore struct{ db *DB }

// CallList returns the call-listing store.
func (db *DB) CallList() *CallListStore { return &CallListStore{db: db} }

var _ calllog.Store = (*CallListStore)(nil)

// ListCalls returns calls newest first (ties broken by CallSid), after the
// cursor when one is given. (The CASTs make PostgreSQL type the times as
// BIGINT; compared with a bare 0 it would infer int4.) Status "active"
// selects live streams, "ended" every call with an end time, anything else
// that exact status; direction, agent and the since/until window narrow
// it further. Each call carries its measured latencies when it has them.
func (s *CallListStore) ListCalls(ctx context.Context, f calllog.Filter) ([]calllog.Summary, error) {
	var afterAt int64
	var afterSID string
	if f.After != nil {
		afterAt, afterSID = Millis(f.After.CreatedAt), f.After.CallSID
	}
	var since, until int64
	if !f.Since.IsZero() {
		since = Millis(f.Since)
	}
	if !f.Until.IsZero() {
		until = Millis(f.Until)
	}
	agent := f.AgentID
	if agent == "default" {
		agent = "" // the default agent is stored as ''
	}
	q := `SELECT c.call_sid, c.direction, c.agent_id, c.from_number, c.to_number, c.from_country, c.decision, c.reason,
       c.status, c.active, c.duration_sec, c.created_at, c.answered_at, c.ended_at, c.end_reason,
       m.first_audio_ms, m.response_p50_ms
FROM calls c LEFT JOIN call_metrics m ON m.call_sid = c.call_sid
WHERE ($1 = '' OR ($1 = 'active' AND c.active = 1) OR ($1 = 'ended' AND c.ended_at IS NOT NULL) OR c.status = $1)
  AND (CAST($2 AS BIGINT) = 0 OR c.created_at < $2 OR (c.created_at = $2 AND c.call_sid < $3))
  AND ($5 = '' OR c.direction = $5)
  AND ($6 = 0 OR c.agent_id = $7)
  AND (CAST($8 AS BIGINT) = 0 OR c.created_at >= $8)
  AND (CAST($9 AS BIGINT) = 0 OR c.created_at < $9)
ORDER BY c.created_at DESC, c.call_sid DESC
LIMIT $4`
	byAgent := 0
	if f.AgentID != "" {
		byAgent = 1
	}
	rows, err := s.db.SQL.QueryContext(ctx, q, f.Status, afterAt, afterSID, f.Limit, f.Direction, byAgent, agent, since, until)
	if err != nil {
		return nil, translate(err, "calls")
	}
	defer rows.Close()
	var out []calllog.Summary
	for rows.Next() {
		var c calllog.Summary
		var active, created int64
		var dur, answered, ended, firstAudio, p50 sql.NullInt64
		if err := rows.Scan(&c.CallSID, &c.Direction, &c.AgentID, &c.From, &c.To, &c.FromCountry, &c.Decision, &c.Reason, &c.Status, &active,
			&dur, &created, &answered, &ended, &c.EndReason, &firstAudio, &p50); err != nil {
			return nil, translate(err, "calls")
		}
		if c.AgentID == "" {
			c.AgentID = "default"
		}
		c.Active = active == 1
		c.CreatedAt = FromMillis(created)
		c.DurationSec = nullInt(dur)
		c.AnsweredAt = nullTime(answered)
		c.EndedAt = nullTime(ended)
		c.FirstAudioMs = nullInt(firstAudio)
		c.ResponseP50Ms = nullInt(p50)
		out = append(out, c)
	}
	return out, translate(rows.Err(), "calls")
}

// nullInt is v as a pointer, nil when NULL.
func nullInt(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	n := v.Int64
	return &n
}

// nullTime is v (Unix milliseconds) as a time, nil when NULL.
func nullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := FromMillis(v.Int64)
	return &t
}
