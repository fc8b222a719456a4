package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/calllog"
)

var _ calllog.DetailStore = (*CallListStore)(nil)

// CallDetail reads one call, its transcript, its tool calls and its
// measurements in one read-only transaction (one snapshot on PostgreSQL),
// numbers unmasked.
func (s *CallListStore) CallDetail(ctx context.Context, callSID string) (calllog.Detail, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.db.Engine == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.SQL.BeginTx(ctx, opts)
	if err != nil {
		return calllog.Detail{}, fmt.Errorf("call detail: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to undo

	var d calllog.Detail
	var reason, endReason string
	var created int64
	var dur, answered, ended, firstAudio, p50, maxMs sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT c.call_sid, c.direction, c.agent_id, c.from_number, c.to_number, c.status,
       c.decision, c.reason, c.end_reason, c.created_at, c.answered_at, c.ended_at, c.duration_sec,
       m.first_audio_ms, m.response_p50_ms, m.response_max_ms, COALESCE(m.input_tokens, 0), COALESCE(m.output_tokens, 0)
FROM calls c LEFT JOIN call_metrics m ON m.call_sid = c.call_sid
WHERE c.call_sid = $1`, callSID).Scan(&d.CallSID, &d.Direction, &d.AgentID, &d.From, &d.To, &d.Status,
		&d.Decision.Result, &reason, &endReason, &created, &answered, &ended, &dur,
		&firstAudio, &p50, &maxMs, &d.Usage.InputTokens, &d.Usage.OutputTokens)
	if errors.Is(err, sql.ErrNoRows) {
		return calllog.Detail{}, apperr.New(apperr.NotFound, "call not found")
	}
	if err != nil {
		return calllog.Detail{}, translate(err, "call")
	}
	if reason != "" {
		d.Decision.Rule = &reason
	}
	if endReason != "" {
		d.EndReason = &endReason
	}
	d.ReceivedAt = FromMillis(created)
	d.AnsweredAt, d.EndedAt, d.DurationSeconds = nullTime(answered), nullTime(ended), nullInt(dur)
	d.Latency = calllog.Latency{FirstAudioMs: nullInt(firstAudio), ResponseP50Ms: nullInt(p50), ResponseMaxMs: nullInt(maxMs)}

	rows, err := tx.QueryContext(ctx, `SELECT role, text, created_at FROM transcripts WHERE call_sid = $1 ORDER BY id`, callSID)
	if err != nil {
		return calllog.Detail{}, translate(err, "transcripts")
	}
	for rows.Next() {
		var l calllog.Line
		var at int64
		if err := rows.Scan(&l.Speaker, &l.Text, &at); err != nil {
			rows.Close()
			return calllog.Detail{}, translate(err, "transcripts")
		}
		l.At = FromMillis(at)
		d.Transcript = append(d.Transcript, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return calllog.Detail{}, translate(err, "transcripts")
	}

	rows, err = tx.QueryContext(ctx, `SELECT name, outcome, duration_ms, created_at FROM call_tools WHERE call_sid = $1 ORDER BY id`, callSID)
	if err != nil {
		return calllog.Detail{}, translate(err, "call tools")
	}
	defer rows.Close()
	for rows.Next() {
		var t calllog.Tool
		var at int64
		if err := rows.Scan(&t.Name, &t.Outcome, &t.DurationMs, &at); err != nil {
			return calllog.Detail{}, translate(err, "call tools")
		}
		t.At = FromMillis(at)
		d.Tools = append(d.Tools, t)
	}
	return d, translate(rows.Err(), "call tools")
}

// CallStatsStore stores what the relay measured during a call.
type CallStatsStore struct{ db *DB }

// CallStats returns the call-measurements store.
func (db *DB) CallStats() *CallStatsStore { return &CallStatsStore{db: db} }

// SaveCallStats stores one call's tool calls and measurements in one
// transaction (once per call, when its stream ends). A second save for the
// same call keeps the first measurements and adds its tool calls.
func (s *CallStatsStore) SaveCallStats(ctx context.Context, st calllog.Stats) error {
	if len(st.Tools) > calllog.MaxTools {
		st.Tools = st.Tools[:calllog.MaxTools]
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, t := range st.Tools {
			if _, err := tx.ExecContext(ctx, `INSERT INTO call_tools (call_sid, name, outcome, duration_ms, created_at) VALUES ($1, $2, $3, $4, $5)`,
				st.CallSID, t.Name, t.Outcome, t.DurationMs, Millis(t.At)); err != nil {
				return translate(err, "call tool")
			}
		}
		l := st.Latency
		_, err := tx.ExecContext(ctx, `INSERT INTO call_metrics (call_sid, first_audio_ms, response_p50_ms, response_max_ms, responses,
  input_tokens, output_tokens, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (call_sid) DO NOTHING`,
			st.CallSID, ptrArg(l.FirstAudioMs), ptrArg(l.ResponseP50Ms), ptrArg(l.ResponseMaxMs), st.Responses,
			st.Usage.InputTokens, st.Usage.OutputTokens, Millis(st.RecordedAt))
		return translate(err, "call metrics")
	})
}

// ptrArg is *p as a query argument, NULL for nil.
func ptrArg(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
