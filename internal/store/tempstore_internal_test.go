package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestSQLiteTempStoreFollowsTheTempDir: with a writable temporary
// directory SQLite keeps its temporary files there (temp_store default,
// 0); with none (a read-only root without a tmpfs) it keeps them in memory
// (2), so the VACUUM after an erasure still runs instead of failing with
// a disk I/O error.
func TestSQLiteTempStoreFollowsTheTempDir(t *testing.T) {
	ctx := context.Background()
	readOnly := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		dirs   []string
		want   int
		memory bool
	}{
		{"writable", []string{t.TempDir()}, 0, false},
		{"none", []string{filepath.Join(t.TempDir(), "missing")}, 2, true},
		{"read-only then writable", []string{readOnly, t.TempDir()}, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "read-only then writable" && os.Geteuid() == 0 {
				t.Skip("root writes to a 0500 directory")
			}
			db, err := openSQLite(ctx, filepath.Join(t.TempDir(), "v.db"), c.dirs)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var got int
			if err := db.SQL.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want || db.TempInMemory != c.memory {
				t.Fatalf("temp_store = %d, TempInMemory %v; want %d, %v", got, db.TempInMemory, c.want, c.memory)
			}
			if _, err := db.SQL.ExecContext(ctx, `VACUUM`); err != nil {
				t.Fatalf("VACUUM: %v", err)
			}
		})
	}
}
