package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"
)

// scrub clears what an erasure freed, so the erased number cannot be read
// back from the database files.
//
// SQLite: every connection runs with secure_delete on (see openSQLite), so
// deleted content is overwritten with zeros in the pages that held it.
// That alone leaves fragments: a row rewritten in place can leave pieces
// of its old cell in the page (found by the byte-scan test), so a VACUUM
// rebuilds the file from the live rows only. It holds the writer lock for
// as long as the copy takes (about a second per 100 MB; erasures are
// rare). The TRUNCATE checkpoint then copies the pages into the database
// file and cuts the write-ahead log to zero bytes, dropping the older
// page images it still held.
//
// PostgreSQL: a plain VACUUM of the touched tables removes the dead row
// versions (their space is reused; nothing takes an exclusive lock).
// WAL archives and base backups keep history under their own retention,
// which the operator has to bound (SECURITY.md).
func (s *PrivacyStore) scrub(ctx context.Context, conn *sql.Conn, touched map[string]bool) error {
	if len(touched) == 0 {
		return nil
	}
	if s.db.Engine == SQLite {
		if err := s.vacuumSQLite(ctx); err != nil {
			return err
		}
		return s.truncateWAL(ctx)
	}
	tables := make([]string, 0, len(touched))
	for t := range touched {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	// This backend's statistics (the rows it just deleted) are flushed
	// first where the server can (PostgreSQL 15+), so the dead-row count
	// the VACUUM leaves is not raised again afterwards by a late flush.
	var version int
	if err := conn.QueryRowContext(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		return fmt.Errorf("erasure committed; VACUUM: %w", err)
	}
	if version >= 150000 {
		if _, err := conn.ExecContext(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
			return fmt.Errorf("erasure committed; VACUUM: %w", err)
		}
	}
	for _, t := range tables {
		// VACUUM cannot run in a transaction; one statement per table so
		// each takes only its own lock.
		if _, err := conn.ExecContext(ctx, `VACUUM `+quoteIdent(t)); err != nil {
			return fmt.Errorf("erasure committed; VACUUM %s failed (retry the erasure): %w", t, err)
		}
	}
	return nil
}

// walTruncateWait bounds how long an erasure waits for a TRUNCATE
// checkpoint: the background checkpoint or a long reader can hold it off
// for a moment.
const walTruncateWait = 10 * time.Second

// truncateWAL runs a TRUNCATE checkpoint, retrying while another
// checkpoint or a reader is in the way, until walTruncateWait passes.
func (s *PrivacyStore) truncateWAL(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, walTruncateWait)
	defer cancel()
	retry := time.NewTicker(10 * time.Millisecond)
	defer retry.Stop()
	for {
		busy, err := s.checkpointTruncate(ctx)
		if err == nil && !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("a reader kept it busy")
			}
			return fmt.Errorf("erasure committed; clearing the write-ahead log failed (retry the erasure): %w", err)
		case <-retry.C:
		}
	}
}

func (s *PrivacyStore) checkpointTruncate(ctx context.Context) (busy bool, err error) {
	defer s.db.lockWrites()()
	var b, logPages, done int
	if err := s.db.SQL.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&b, &logPages, &done); err != nil {
		return false, err
	}
	return b != 0, nil
}

func (s *PrivacyStore) vacuumSQLite(ctx context.Context) error {
	defer s.db.lockWrites()()
	if _, err := s.db.SQL.ExecContext(ctx, `VACUUM`); err != nil {
		return fmt.Errorf("erasure committed; VACUUM failed (retry the erasure): %w", err)
	}
	return nil
}
