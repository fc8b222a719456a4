// Package store is the database adapter: one DB type over database/sql for
// both engines (embedded SQLite through modernc.org/sqlite, PostgreSQL
// through pgx), the embedded migrations, and one file per domain with the
// queries that domain needs.
//
// Queries are written once with $1, $2, ... placeholders, numbered in order
// of first appearance: PostgreSQL reads them natively and SQLite treats them
// as parameters bound by position. Where the engines differ (locking,
// LISTEN/NOTIFY) the code switches on DB.Engine.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/groupcommit"
	"github.com/voiceagent/voiceagent/migrations"
)

// Engine names a database engine.
type Engine string

// Supported engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DB is an open database of either engine.
type DB struct {
	SQL    *sql.DB
	Engine Engine
	// URL is the PostgreSQL connection string (empty for SQLite); the
	// event bus opens its own LISTEN connection with it.
	URL string
	// TempInMemory is true when SQLite keeps its temporary files in
	// memory because no temporary directory is writable (tempstore.go).
	TempInMemory bool

	// writeMu serialises SQLite writers in Go. SQLite allows one writer at
	// a time; without this, concurrent writers collide on the database
	// lock and SQLite's busy handler puts them to sleep for 1-100 ms
	// before retrying, which is where most of the webhook path's tail
	// latency came from. PostgreSQL has row locks and needs none of it.
	writeMu sync.Mutex

	// stmtMu guards the SQLite statement cache (see prepared); it is
	// never held while waiting for a connection.
	stmtMu      sync.Mutex
	stmts       map[string]*sql.Stmt
	warming     map[string]bool // queries being prepared in the background
	warmers     sync.WaitGroup  // their goroutines, waited for by Close
	stmtsClosed bool

	admissions *groupcommit.Group[*admission] // group commit of AdmitCall (admit.go)
	outbox     outboxHook                     // wakes the webhook dispatcher (webhook_outbox.go)
	// noWebhooks is true when the last one-statement admission batch
	// found no enabled webhook subscription; the next batches then send
	// no webhook events, and their statement stores nothing if one has
	// appeared since (admit_onestatement.go).
	noWebhooks atomic.Bool
	// callerLookups batches CallerStatus on PostgreSQL (callers_batch.go);
	// nil on SQLite.
	callerLookups *groupcommit.Group[*callerLookup]

	// SQLite WAL checkpoints run in the background (checkpointLoop)
	// instead of inside whichever commit crosses the WAL size limit.
	stopCheckpoints chan struct{}
	checkpointsDone chan struct{}
	closeOnce       sync.Once
	panics          panicReporter // see SetPanicHandler
}

// checkpointEvery is how often the SQLite WAL is copied back into the
// database file.
const checkpointEvery = 250 * time.Millisecond

// checkpointLoop copies the SQLite WAL into the database file in the
// background. SQLite's own automatic checkpoint runs inside the commit
// that makes the WAL exceed its limit, holding the writer (and every
// admission batched behind it) for milliseconds; a PASSIVE checkpoint
// here never waits for or blocks writers or readers.
func (db *DB) checkpointLoop() {
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-db.stopCheckpoints:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _ = db.SQL.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`) //nolint:errcheck // retried on the next tick
			cancel()
		}
	}
}

// Open connects to PostgreSQL when databaseURL is set, otherwise opens (and
// creates) the SQLite file voiceagent.db under dataDir.
func Open(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	if databaseURL != "" {
		return openPostgres(ctx, databaseURL)
	}
	return openSQLite(ctx, filepath.Join(dataDir, "voiceagent.db"), sqliteTempDirs(os.Getenv))
}

// openSQLite opens the database at path; tempDirs are where SQLite may
// write temporary files (none writable: it keeps them in memory).
func openSQLite(ctx context.Context, path string, tempDirs []string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// secure_delete: deleted content is overwritten with zeros, so an
	// erased phone number is not left readable in free space (privacy
	// erasure; see PrivacyStore.scrub).
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=secure_delete(1)&_pragma=wal_autocheckpoint(0)&_txlock=immediate"
	temp := tempStorePragma(tempDirs)
	dsn += temp
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	sdb.SetMaxOpenConns(8)
	sdb.SetMaxIdleConns(8)
	sdb.SetConnMaxIdleTime(0)
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db := &DB{SQL: sdb, Engine: SQLite, TempInMemory: temp != "", stmts: map[string]*sql.Stmt{}, warming: map[string]bool{}, stopCheckpoints: make(chan struct{}), checkpointsDone: make(chan struct{})}
	db.admissions = newAdmissions(db)
	go db.runCheckpoints()
	return db, nil
}

func openPostgres(ctx context.Context, url string) (*DB, error) {
	sdb, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	sdb.SetMaxOpenConns(20)
	sdb.SetMaxIdleConns(20)
	sdb.SetConnMaxLifetime(30 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sdb.PingContext(pctx); err != nil {
		sdb.Close()
		// The pgx error text can hold the host and user, never the password.
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	db := &DB{SQL: sdb, Engine: Postgres, URL: url}
	db.admissions = newAdmissions(db)
	db.callerLookups = newCallerLookups(db)
	return db, nil
}

// Migrate applies every pending migration of this engine, each in its own
// transaction, and returns the version reached.
func (db *DB) Migrate(ctx context.Context) (int64, error) {
	dir, err := fs.Sub(migrations.FS, string(db.Engine))
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	dialect := goose.DialectSQLite3
	if db.Engine == Postgres {
		dialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, db.SQL, dir, goose.WithAllowOutofOrder(true))
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return 0, fmt.Errorf("apply migrations: %w", err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.SQL.PingContext(ctx) }

// Close stops the background checkpoints, waits for the admission
// batches under way, closes the cached statements and the pool.
func (db *DB) Close() error {
	if db.admissions != nil {
		db.admissions.Wait()
	}
	if db.callerLookups != nil {
		db.callerLookups.Wait()
	}
	db.closeOnce.Do(func() {
		if db.stopCheckpoints != nil {
			close(db.stopCheckpoints)
			<-db.checkpointsDone
		}
	})
	db.stmtMu.Lock()
	db.stmtsClosed = true
	db.stmtMu.Unlock()
	db.warmers.Wait()
	db.stmtMu.Lock()
	for q, st := range db.stmts {
		st.Close()
		delete(db.stmts, q)
	}
	db.stmtMu.Unlock()
	return db.SQL.Close()
}

// lockWrites takes the SQLite writer lock (a no-op on PostgreSQL) and
// returns its release. Its holder may then wait for a pooled connection;
// that cannot deadlock because the order is always writer lock first,
// connection second: transactions take it before BeginTx, readers never
// take it, and no code holding a connection (an open transaction or rows
// being read) asks for it.
func (db *DB) lockWrites() func() {
	if db.Engine != SQLite {
		return func() {}
	}
	db.writeMu.Lock()
	return db.writeMu.Unlock
}

// prepared returns the cached statement for q on SQLite, preparing and
// caching it on a miss: modernc.org/sqlite caches no statements, and
// parsing and planning every query anew was over a quarter of the
// server's CPU on the webhook path. On PostgreSQL it returns nil: pgx
// already caches prepared statements per connection, so a query runs
// through the pool directly (see queryRow, write).
//
// stmtMu only guards the map: it is never held while preparing, because
// preparing waits for a pooled connection, and holding a lock across that
// wait deadlocked the server under a burst of calls (every connection
// belonged to a transaction waiting for the lock; STYLE.md habit 17). Two
// callers missing at once both prepare; the second keeps the first's
// statement and closes its own.
func (db *DB) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if db.Engine != SQLite {
		return nil, nil
	}
	if st := db.cached(q); st != nil {
		return st, nil
	}
	st, err := db.SQL.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return db.keep(q, st), nil
}

// cached returns the cached statement for q, or nil.
func (db *DB) cached(q string) *sql.Stmt {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	return db.stmts[q]
}

// keep caches st for q unless another caller cached one first (or the DB
// is closed), and returns the statement to use.
func (db *DB) keep(q string, st *sql.Stmt) *sql.Stmt {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if db.stmtsClosed {
		return st // used once; database/sql closes it with the pool
	}
	if had, ok := db.stmts[q]; ok {
		st.Close()
		return had
	}
	db.stmts[q] = st
	return st
}

// warm prepares q into the cache in the background, once at a time per
// query. A transaction that misses the cache cannot prepare on the pool:
// it holds a connection, and the pool may have no other (that wait is
// the deadlock above), so it runs the query on its own connection and
// leaves the caching to this goroutine, which holds nothing while it
// waits for a connection.
func (db *DB) warm(q string) {
	db.stmtMu.Lock()
	if db.stmtsClosed || db.warming[q] {
		db.stmtMu.Unlock()
		return
	}
	db.warming[q] = true
	db.warmers.Add(1)
	db.stmtMu.Unlock()
	go func() {
		defer db.warmers.Done()
		defer func() {
			if v := recover(); v != nil {
				db.panics.report("statement_warm", v)
			}
			db.stmtMu.Lock()
			delete(db.warming, q)
			db.stmtMu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if st, err := db.SQL.PrepareContext(ctx, q); err == nil {
			db.keep(q, st)
		}
	}()
}

// local drops ctx's cancellation for statements on SQLite: the driver
// starts a goroutine per statement to watch a cancellable context (one
// per query on the webhook path), and a local statement takes well under
// a millisecond anyway. PostgreSQL statements keep ctx (a network round
// trip that must end with the request).
func (db *DB) local(ctx context.Context) context.Context {
	if db.Engine == SQLite {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// queryRow runs a single-row read through a prepared statement. Errors
// (preparing included) come back from Scan, as with QueryRowContext.
func (db *DB) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	st, err := db.prepared(ctx, q)
	if err != nil {
		return errRow{err}
	}
	if st == nil {
		return db.SQL.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(db.local(ctx), args...)
}

// write runs a statement that changes data outside a transaction (an
// UPDATE ... RETURNING included), holding the SQLite writer lock.
func (db *DB) write(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := db.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return db.SQL.ExecContext(ctx, q, args...)
	}
	defer db.lockWrites()()
	return st.ExecContext(db.local(ctx), args...)
}

// writeRow is write for a statement returning one row.
func (db *DB) writeRow(ctx context.Context, q string, args []any, dest ...any) error {
	st, err := db.prepared(ctx, q)
	if err != nil {
		return err
	}
	if st == nil {
		return db.SQL.QueryRowContext(ctx, q, args...).Scan(dest...)
	}
	defer db.lockWrites()()
	return st.QueryRowContext(db.local(ctx), args...).Scan(dest...)
}

// txStatement is a statement run inside a transaction: a cached
// *sql.Stmt bound to the transaction, or txQuery.
type txStatement interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, args ...any) *sql.Row
}

// txStmt returns q bound to tx. It never waits for a pooled connection
// (tx holds one, and the pool may have no other): on SQLite a cached
// statement is re-bound to tx's connection, a miss runs q as it is and
// warms the cache in the background; on PostgreSQL q runs as it is and
// pgx's per-connection cache prepares it. The error is always nil; it is
// kept so callers read the same either way.
func (db *DB) txStmt(ctx context.Context, tx *sql.Tx, q string) (txStatement, error) {
	if db.Engine == SQLite {
		if st := db.cached(q); st != nil {
			return tx.StmtContext(ctx, st), nil
		}
		db.warm(q)
	}
	return txQuery{tx: tx, q: q}, nil
}

// txQuery runs an unprepared query in a transaction.
type txQuery struct {
	tx *sql.Tx
	q  string
}

func (t txQuery) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.q, args...)
}

func (t txQuery) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.q, args...)
}

// errRow is a rowScanner that only reports err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// InTx runs fn in a transaction, committing when fn returns nil. On
// SQLite the transaction holds the writer lock (see writeMu): fn must not
// call the DB's own write helpers, only tx.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	defer db.lockWrites()()
	return db.inTxLocked(ctx, fn)
}

// inTxLocked is InTx for a caller that already holds the SQLite writer
// lock.
func (db *DB) inTxLocked(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique or primary-key
// constraint failure in either engine.
func IsUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return false
}

// translate maps storage errors to apperr codes at the store boundary:
// no rows -> not_found, unique violation -> conflict. Other errors are
// wrapped as internal with the cause kept for the log.
func translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return apperr.Wrap(err, apperr.NotFound, what+" not found")
	case IsUniqueViolation(err):
		return apperr.Wrap(err, apperr.Conflict, what+" already exists")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

// Millis converts a time to the stored Unix-millisecond form.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// FromMillis converts a stored Unix-millisecond value back to UTC time.
func FromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Tables lists the application tables, for tests that inspect every row.
func (db *DB) Tables(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'goose_%' ORDER BY name`
	if db.Engine == Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name NOT LIKE 'goose_%' ORDER BY table_name`
	}
	rows, err := db.SQL.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(n, "goose") {
			out = append(out, n)
		}
	}
	return out, rows.Err()
}
