package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// BenchmarkEraseNumber: one erasure (find, delete/rewrite, VACUUM, WAL
// truncate) on a SQLite database of 20,000 calls with 5 transcript lines
// each (about 30 MB), the subject mentioned in a handful of them. The
// writer lock is held for the whole erasure, so this is how long call
// admissions wait behind it.
func BenchmarkEraseNumber(b *testing.B) {
	db := storetest.SQLite(b)
	ctx := context.Background()
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		for i := 0; i < 20000; i++ {
			sid := fmt.Sprintf("CA%032x", i)
			if _, err := tx.ExecContext(ctx, `INSERT INTO calls (call_sid, from_number, to_number, caller_name, decision, twiml, created_at, updated_at) VALUES ($1, $2, '+15005550006', 'EXAMPLE CALLER', 'accept', '<Response><Connect><Stream url="wss://voice.example.test/stream"/></Connect></Response>', 1, 1)`, sid, fmt.Sprintf("+1415555%04d", i%10000)); err != nil {
				return err
			}
			for j := 0; j < 5; j++ {
				text := fmt.Sprintf("line %d of call %d: the caller asked about the opening hours of the office on the 12th", j, i)
				if i%4000 == 0 {
					text += " and said to call 415-555-0166 instead"
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO transcripts (call_sid, role, text, created_at) VALUES ($1, 'caller', $2, 1)`, sid, text); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := db.Privacy().EraseNumber(ctx, "+14155550166", "erased:h"); err != nil {
			b.Fatal(err)
		}
	}
}
