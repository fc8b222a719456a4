package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"testing"
	"time"
)

// panicDriver is a database/sql driver whose statements panic, standing
// in for a fault inside the SQLite driver.
type panicDriver struct{}

func (panicDriver) Open(string) (driver.Conn, error) { return panicConn{}, nil }

type panicConn struct{}

func (panicConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not supported") }
func (panicConn) Close() error                        { return nil }
func (panicConn) Begin() (driver.Tx, error)           { return nil, errors.New("not supported") }
func (panicConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	panic("injected test panic in the driver")
}

func init() { sql.Register("voiceagent-panic-test", panicDriver{}) }

// TestCheckpointLoopContainsPanics: a checkpoint that panics is reported
// (where: sqlite_checkpoint), the loop starts again, and Close still stops
// it, instead of the panic ending the process and every live call.
func TestCheckpointLoopContainsPanics(t *testing.T) {
	old := checkpointRestartAfter
	checkpointRestartAfter = time.Millisecond
	defer func() { checkpointRestartAfter = old }()
	sdb, err := sql.Open("voiceagent-panic-test", "")
	if err != nil {
		t.Fatal(err)
	}
	db := &DB{SQL: sdb, Engine: SQLite, stmts: map[string]*sql.Stmt{}, stopCheckpoints: make(chan struct{}), checkpointsDone: make(chan struct{})}
	reports := make(chan string, 16)
	db.SetPanicHandler(func(where string, v any) {
		select {
		case reports <- where:
		default:
		}
	})
	go db.runCheckpoints()
	deadline := time.After(30 * time.Second)
	for i := 0; i < 2; i++ { // the second report shows the loop restarted
		select {
		case where := <-reports:
			if where != "sqlite_checkpoint" {
				t.Fatalf("reported where = %q", where)
			}
		case <-deadline:
			t.Fatalf("%d panics reported, want 2", i)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
