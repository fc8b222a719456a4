package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/poll"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

func TestMigrateIsIdempotentAndCreatesSchema(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		v1, err := db.Migrate(ctx)
		if err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if v1 < 1 {
			t.Fatalf("version = %d, want >= 1", v1)
		}
		tables, err := db.Tables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"calls": true, "contacts": true, "conference_events": true, "transcripts": true, "audit_events": true, "caller_lists": true}
		for _, tb := range tables {
			delete(want, tb)
		}
		if len(want) != 0 {
			t.Fatalf("missing tables %v (have %v)", want, tables)
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
}

// TestPlaceholdersBindByPosition pins the assumption every query makes:
// $1.. placeholders bind by position in both engines, reused or not.
func TestPlaceholdersBindByPosition(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var a, b, c string
		err := db.SQL.QueryRowContext(ctx, `SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($1 AS TEXT) || CAST($3 AS TEXT)`, "x", "y", "z").Scan(&a, &b, &c)
		if err != nil {
			t.Fatal(err)
		}
		if a != "x" || b != "y" || c != "xz" {
			t.Fatalf("got %q %q %q, want x y xz", a, b, c)
		}
	})
}

func TestUniqueViolationIsDetected(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ins := `INSERT INTO caller_lists (list, number, source, created_at) VALUES ('blocked', '+15005550006', 'api', 1)`
		if _, err := db.SQL.ExecContext(ctx, ins); err != nil {
			t.Fatal(err)
		}
		_, err := db.SQL.ExecContext(ctx, ins)
		if !store.IsUniqueViolation(err) {
			t.Fatalf("IsUniqueViolation(%v) = false, want true", err)
		}
		if apperr.Is(err, apperr.Conflict) {
			t.Fatal("raw driver error must not carry an apperr code")
		}
	})
}

// TestSQLiteCheckpointsInTheBackground: commits never checkpoint the WAL
// themselves (wal_autocheckpoint is off); the background loop copies it
// into the database file, which then grows without any explicit call.
func TestSQLiteCheckpointsInTheBackground(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var auto int
	if err := db.SQL.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("wal_autocheckpoint = %d, %v; want 0", auto, err)
	}
	main := filepath.Join(dir, "voiceagent.db")
	size := func() int64 {
		fi, err := os.Stat(main)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	time.Sleep(600 * time.Millisecond) // the migrations' pages reach the file
	before := size()
	filler := strings.Repeat("x", 2000)
	for i := range 500 {
		if _, err := db.SQL.ExecContext(ctx, `INSERT INTO transcripts (call_sid, role, text, created_at) VALUES ($1, 'caller', $2, $3)`,
			"CA0000000000000000000000000000ffff", filler, i); err != nil {
			t.Fatal(err)
		}
	}
	poll.Wait(t, "a WAL checkpoint to grow the database file", func() bool { return size() > before })
}
