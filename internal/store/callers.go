package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/voiceagent/voiceagent/internal/voice"
)

// CallerStore keeps the deny ("blocked") and allow ("allowed") lists.
type CallerStore struct{ db *DB }

// Callers returns the caller-list store.
func (db *DB) Callers() *CallerStore { return &CallerStore{db: db} }

var _ voice.ListStore = (*CallerStore)(nil)

// ListCallers returns a list's entries ordered by number.
func (s *CallerStore) ListCallers(ctx context.Context, list string) ([]voice.ListEntry, error) {
	rows, err := s.db.SQL.QueryContext(ctx, `SELECT number, source, created_at FROM caller_lists WHERE list = $1 ORDER BY number`, list)
	if err != nil {
		return nil, translate(err, "caller list")
	}
	defer rows.Close()
	out := []voice.ListEntry{}
	for rows.Next() {
		e := voice.ListEntry{List: list}
		var at int64
		if err := rows.Scan(&e.Number, &e.Source, &at); err != nil {
			return nil, translate(err, "caller list")
		}
		e.CreatedAt = FromMillis(at)
		out = append(out, e)
	}
	return out, translate(rows.Err(), "caller list")
}

// AddCaller stores e; created is false when the number was already listed.
func (s *CallerStore) AddCaller(ctx context.Context, e voice.ListEntry) (bool, error) {
	res, err := s.db.write(ctx, `INSERT INTO caller_lists (list, number, source, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (list, number) DO NOTHING`, e.List, e.Number, e.Source, Millis(e.CreatedAt))
	if err != nil {
		return false, translate(err, "caller list entry")
	}
	n, err := res.RowsAffected()
	return n == 1, translate(err, "caller list entry")
}

// RemoveCaller deletes a number from a list.
func (s *CallerStore) RemoveCaller(ctx context.Context, list, number string) error {
	res, err := s.db.write(ctx, `DELETE FROM caller_lists WHERE list = $1 AND number = $2`, list, number)
	if err != nil {
		return translate(err, "caller list entry")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return translate(sql.ErrNoRows, "caller list entry")
	}
	return nil
}

// CallerListed reports whether number is on list and the list's size, in
// one query.
func (s *CallerStore) CallerListed(ctx context.Context, list, number string) (bool, int, error) {
	var listed, size int
	err := s.db.queryRow(ctx, `SELECT COALESCE(SUM(CASE WHEN number = $2 THEN 1 ELSE 0 END), 0), COUNT(*)
FROM caller_lists WHERE list = $1`, list, number).Scan(&listed, &size)
	if err != nil {
		return false, 0, translate(err, "caller list")
	}
	return listed > 0, size, nil
}

// Blocked reports whether number (E.164) is on the stored deny list: the
// deny list the relay's and the conference service's dialling checks
// read.
func (s *CallerStore) Blocked(ctx context.Context, number string) (bool, error) {
	listed, _, err := s.CallerListed(ctx, voice.ListBlocked, number)
	return listed, err
}

// CallerStatus reads the caller's standing on both lists in one query of
// three index lookups; on PostgreSQL the lookups of concurrent calls share
// one query (callers_batch.go).
func (s *CallerStore) CallerStatus(ctx context.Context, number string) (voice.CallerStatus, error) {
	if s.db.callerLookups != nil {
		return s.callerStatusBatched(ctx, number)
	}
	return s.callerStatusOne(ctx, number)
}

// callerStatusOne is CallerStatus in a query of its own.
func (s *CallerStore) callerStatusOne(ctx context.Context, number string) (voice.CallerStatus, error) {
	var st voice.CallerStatus
	var blocked, allowed, inUse int
	err := s.db.queryRow(ctx, `SELECT
  (SELECT COUNT(*) FROM caller_lists WHERE list = 'blocked' AND number = $1),
  (SELECT COUNT(*) FROM caller_lists WHERE list = 'allowed' AND number = $1),
  (SELECT COUNT(*) FROM (SELECT 1 FROM caller_lists WHERE list = 'allowed' LIMIT 1) AS any_allowed)`, number).Scan(&blocked, &allowed, &inUse)
	if err != nil {
		return st, translate(err, "caller list")
	}
	st.Blocked, st.Allowed, st.AllowListInUse = blocked > 0, allowed > 0, inUse > 0
	return st, nil
}

// SyncEnvCallers makes the list's env-sourced entries exactly numbers;
// entries added through the API are kept (an env number already added by
// the API stays an API entry).
func (s *CallerStore) SyncEnvCallers(ctx context.Context, list string, numbers []string, at time.Time) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT number FROM caller_lists WHERE list = $1 AND source = 'env'`, list)
		if err != nil {
			return translate(err, "caller list")
		}
		want := make(map[string]bool, len(numbers))
		for _, n := range numbers {
			want[n] = true
		}
		var stale []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return translate(err, "caller list")
			}
			if !want[n] {
				stale = append(stale, n)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return translate(err, "caller list")
		}
		for _, n := range stale {
			if _, err := tx.ExecContext(ctx, `DELETE FROM caller_lists WHERE list = $1 AND number = $2 AND source = 'env'`, list, n); err != nil {
				return translate(err, "caller list")
			}
		}
		for _, n := range numbers {
			if _, err := tx.ExecContext(ctx, `INSERT INTO caller_lists (list, number, source, created_at) VALUES ($1, $2, 'env', $3)
ON CONFLICT (list, number) DO NOTHING`, list, n, Millis(at)); err != nil {
				return translate(err, "caller list")
			}
		}
		return nil
	})
}
