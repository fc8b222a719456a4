// Package storetest opens real databases for tests: a fresh SQLite file in
// the test's temp dir, and a fresh schema on the PostgreSQL server named by
// VOICEAGENT_TEST_POSTGRES_URL (CI always sets it; `.ci/postgres.sh start`
// starts one locally).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/voiceagent/voiceagent/internal/store"
)

// PostgresEnv is the variable that names the test PostgreSQL server.
const PostgresEnv = "VOICEAGENT_TEST_POSTGRES_URL"

// RequirePostgresEnv, set to 1, makes a missing PostgreSQL a test failure
// instead of a skip. .ci/run sets it; CI=true has the same effect.
const RequirePostgresEnv = "VOICEAGENT_REQUIRE_POSTGRES"

// PostgresRequired reports whether PostgreSQL tests must run: in CI
// (CI=true) or when VOICEAGENT_REQUIRE_POSTGRES=1.
func PostgresRequired() bool {
	return os.Getenv("CI") == "true" || os.Getenv(RequirePostgresEnv) == "1"
}

// SkipNoPostgres skips a test that needs PostgreSQL, naming why, or fails
// it when PostgreSQL is required (PostgresRequired), so CI never passes
// with the PostgreSQL half silently skipped.
func SkipNoPostgres(t testing.TB, why string) {
	t.Helper()
	if PostgresRequired() {
		t.Fatalf("PostgreSQL is required here (CI=true or %s=1) but %s; start one with `eval \"$(.ci/postgres.sh start)\"`", RequirePostgresEnv, why)
		return
	}
	t.Skipf("PostgreSQL test skipped: %s (`eval \"$(.ci/postgres.sh start)\"` starts one; set %s=1 to make this a failure)", why, RequirePostgresEnv)
}

// Engines runs fn once per engine as subtests named "sqlite" and
// "postgres", each with a freshly migrated database.
func Engines(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite returns a migrated database in a new file under t.TempDir().
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// Postgres returns a migrated database in a new schema of the test server,
// dropped when the test ends. With no server named it skips the test, or
// fails it where PostgreSQL is required (see SkipNoPostgres).
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	db, _ := PostgresURL(t)
	return db
}

// PostgresURL is Postgres that also returns the URL of the fresh schema, so
// a test can start a second server process on the same database.
func PostgresURL(t testing.TB) (*store.DB, string) {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		SkipNoPostgres(t, PostgresEnv+" is not set")
	}
	ctx := context.Background()
	schema := "t_" + randomHex(8)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		a.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE") //nolint:errcheck // best effort
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := store.Open(ctx, u.String(), "")
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return db, u.String()
}

// PostgresDatabase is Postgres in a database of its own instead of a
// schema of the shared one, dropped when the test ends. A VACUUM can
// remove a dead row version only once no transaction of the same
// database may still see it, so a test that checks what VACUUM removed
// must not share its database with other packages' tests running at the
// same time (their open transactions hold the horizon back).
func PostgresDatabase(t testing.TB) *store.DB {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		SkipNoPostgres(t, PostgresEnv+" is not set")
	}
	ctx := context.Background()
	name := "t_" + randomHex(8)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		a.ExecContext(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)") //nolint:errcheck // best effort
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	db, err := store.Open(ctx, u.String(), "")
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return db
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // never fails
	return hex.EncodeToString(b)
}
