package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// callPurgeBatch is how many calls one retention transaction removes, so
// the SQLite writer lock is never held for long (admissions wait on it).
const callPurgeBatch = 500

// DeleteCallsBefore erases the calls whose last change (end, update or
// creation) is older than t (the CALL_RETENTION_DAYS window), with
// everything hanging off them: transcripts, stream tokens, webhook
// receipts, the conferences they started with those conferences'
// participants and events. A live call (holding a capacity slot,
// active = 1) is never purged, however old. Rows of those tables older
// than t that belong to no call or conference left are purged too.
// Returns how many calls went.
func (s *CallStore) DeleteCallsBefore(ctx context.Context, t time.Time) (int64, error) {
	cutoff := Millis(t)
	var total int64
	for {
		n, err := s.purgeCallBatch(ctx, cutoff)
		total += n
		if err != nil {
			return total, translate(err, "call retention")
		}
		if n < callPurgeBatch {
			break
		}
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM webhook_receipts WHERE created_at < $1 AND call_sid NOT IN (SELECT call_sid FROM calls)`,
			`DELETE FROM stream_tokens WHERE created_at < $1 AND call_sid NOT IN (SELECT call_sid FROM calls)`,
			`DELETE FROM conference_events WHERE created_at < $1 AND conference_name NOT IN (SELECT name FROM conferences)`,
			`DELETE FROM conference_participants WHERE created_at < $1 AND conference_name NOT IN (SELECT name FROM conferences)`,
		} {
			if _, err := tx.ExecContext(ctx, q, cutoff); err != nil {
				return fmt.Errorf("purge orphans: %w", err)
			}
		}
		return nil
	})
	return total, translate(err, "call retention")
}

// purgeCallBatch removes up to callPurgeBatch expired calls and their
// dependants in one transaction.
func (s *CallStore) purgeCallBatch(ctx context.Context, cutoff int64) (int64, error) {
	var n int64
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		q := `SELECT call_sid FROM calls WHERE active = 0 AND COALESCE(ended_at, updated_at, created_at) < $1 ORDER BY created_at LIMIT ` + fmt.Sprint(callPurgeBatch)
		if s.db.Engine == Postgres {
			q += ` FOR UPDATE` // SQLite's transaction holds the writer lock
		}
		rows, err := tx.QueryContext(ctx, q, cutoff)
		if err != nil {
			return err
		}
		var sids []any
		for rows.Next() {
			var sid string
			if err := rows.Scan(&sid); err != nil {
				rows.Close()
				return err
			}
			sids = append(sids, sid)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(sids) == 0 {
			return nil
		}
		in := placeholders(len(sids))
		confs := `SELECT name FROM conferences WHERE caller_call_sid IN (` + in + `)`
		for _, q := range []string{
			`DELETE FROM conference_events WHERE conference_name IN (` + confs + `)`,
			`DELETE FROM conference_participants WHERE conference_name IN (` + confs + `)`,
			`DELETE FROM conferences WHERE caller_call_sid IN (` + in + `)`,
			`DELETE FROM transcripts WHERE call_sid IN (` + in + `)`,
			`DELETE FROM call_tools WHERE call_sid IN (` + in + `)`,
			`DELETE FROM call_metrics WHERE call_sid IN (` + in + `)`,
			`DELETE FROM stream_tokens WHERE call_sid IN (` + in + `)`,
			`DELETE FROM webhook_receipts WHERE call_sid IN (` + in + `)`,
		} {
			if _, err := tx.ExecContext(ctx, q, sids...); err != nil {
				return err
			}
		}
		// active = 0 again: a call that went live since the select stays.
		res, err := tx.ExecContext(ctx, `DELETE FROM calls WHERE active = 0 AND call_sid IN (`+in+`)`, sids...)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

// placeholders is "$1, $2, ..., $n".
func placeholders(n int) string {
	b := make([]byte, 0, n*4)
	for i := 1; i <= n; i++ {
		if i > 1 {
			b = append(b, ", "...)
		}
		b = append(b, fmt.Sprintf("$%d", i)...)
	}
	return string(b)
}
