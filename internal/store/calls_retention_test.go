package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// TestCallRetention: calls whose last change is older than the window go
// with everything hanging off them; recent calls and live calls (however
// old) stay with theirs; orphans older than the window go too.
func TestCallRetention(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		old := store.Millis(now.Add(-40 * 24 * time.Hour))
		recent := store.Millis(now.Add(-time.Hour))
		seed := func(n int, active int, at int64) string {
			sid := fmt.Sprintf("CA%032x", n)
			conf := "conf_" + sid
			exec(t, db, `INSERT INTO calls (call_sid, from_number, to_number, decision, active, created_at, updated_at) VALUES ($1, '+14155550101', '+15005550006', 'accept', $2, $3, $3)`, sid, active, at)
			exec(t, db, `INSERT INTO transcripts (call_sid, role, text, created_at) VALUES ($1, 'caller', 'hello', $2)`, sid, at)
			exec(t, db, `INSERT INTO call_tools (call_sid, name, outcome, duration_ms, created_at) VALUES ($1, 'end_call', 'ok', 1, $2)`, sid, at)
			exec(t, db, `INSERT INTO call_metrics (call_sid, first_audio_ms, created_at) VALUES ($1, 400, $2)`, sid, at)
			exec(t, db, `INSERT INTO stream_tokens (token_hash, call_sid, created_at, expires_at) VALUES ($1, $2, $3, $3)`, "h"+sid, sid, at)
			exec(t, db, `INSERT INTO webhook_receipts (idempotency_key, kind, call_sid, created_at) VALUES ($1, 'voice', $2, $3)`, "k"+sid, sid, at)
			exec(t, db, `INSERT INTO conferences (name, caller_call_sid, created_at, updated_at) VALUES ($1, $2, $3, $3)`, conf, sid, at)
			exec(t, db, `INSERT INTO conference_participants (conference_name, call_sid, number, role, created_at, updated_at) VALUES ($1, $2, '+14155550102', 'target', $3, $3)`, conf, "CL"+sid[2:], at)
			exec(t, db, `INSERT INTO conference_events (conference_sid, conference_name, sequence_number, event, created_at) VALUES ($1, $2, 1, 'conference-start', $3)`, "CF"+sid[2:], conf, at)
			return sid
		}
		expired := seed(1, 0, old)
		live := seed(2, 1, old) // an old record still holding its slot
		fresh := seed(3, 0, recent)
		exec(t, db, `INSERT INTO webhook_receipts (idempotency_key, kind, call_sid, created_at) VALUES ('orphan', 'status', 'CAgone', $1)`, old)
		exec(t, db, `INSERT INTO conference_events (conference_sid, conference_name, sequence_number, event, created_at) VALUES ('CFgone', 'conf_gone', 1, 'conference-end', $1)`, old)

		n, err := db.Calls().DeleteCallsBefore(ctx, now.Add(-30*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("purged %d calls, want 1", n)
		}
		tables := map[string]string{
			"calls": "call_sid", "transcripts": "call_sid", "stream_tokens": "call_sid", "webhook_receipts": "call_sid",
			"conferences": "caller_call_sid", "call_tools": "call_sid", "call_metrics": "call_sid",
		}
		for table, col := range tables {
			for sid, want := range map[string]int{expired: 0, live: 1, fresh: 1} {
				if got := rowCount(t, db, `SELECT COUNT(*) FROM `+table+` WHERE `+col+` = $1`, sid); got != want {
					t.Errorf("%s rows of %s = %d, want %d", table, sid, got, want)
				}
			}
		}
		for _, table := range []string{"conference_participants", "conference_events"} {
			for sid, want := range map[string]int{expired: 0, live: 1, fresh: 1} {
				if got := rowCount(t, db, `SELECT COUNT(*) FROM `+table+` WHERE conference_name = $1`, "conf_"+sid); got != want {
					t.Errorf("%s rows of %s = %d, want %d", table, sid, got, want)
				}
			}
		}
		if got := rowCount(t, db, `SELECT COUNT(*) FROM webhook_receipts WHERE call_sid = 'CAgone'`) + rowCount(t, db, `SELECT COUNT(*) FROM conference_events WHERE conference_name = 'conf_gone'`); got != 0 {
			t.Errorf("orphans left: %d", got)
		}
		if got := rowCount(t, db, `SELECT active FROM call_capacity WHERE id = 1`); got != 1 {
			t.Errorf("capacity counter = %d, want the live call's 1", got)
		}
	})
}
