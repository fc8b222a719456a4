package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/privacy"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

const (
	eraseSubject = "+15555550142"
	eraseCallSID = "CA0123456789abcdef0123456789abcdef"
	eraseConf    = "conf_" + eraseCallSID
)

func exec(t *testing.T, db *store.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.SQL.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func rowCount(t *testing.T, db *store.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.SQL.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestEraseNumberCountsRows: counts are rows (a row with the number in
// several columns or spellings counts once), LIKE wildcards in the
// URL-encoded form match nothing else, and stored live-event payloads
// with the number are deleted and counted.
func TestEraseNumberCountsRows(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		enc := "%2B" + eraseSubject[1:]
		// One row, the number three times over two columns: one row.
		exec(t, db, `INSERT INTO audit_events (type, actor, detail, created_at) VALUES ('call_decision', $1, $2, 1)`,
			"agent "+eraseSubject, `{"from":"`+eraseSubject+`","url":"/x?From=`+enc+`"}`)
		// Only the lowercase encoding.
		exec(t, db, `INSERT INTO audit_events (type, detail, created_at) VALUES ('call_decision', $1, 1)`, `{"url":"/x?From=%2b`+eraseSubject[1:]+`"}`)
		// Not the number: "%" in "%2B..." must not act as a wildcard, nor
		// "_" anywhere.
		for _, other := range []string{`{"ref":"X2B155555501420"}`, `{"ref":"%2B1555555_142"}`, `{"ref":"+1555555_142"}`} {
			exec(t, db, `INSERT INTO audit_events (type, detail, created_at) VALUES ('other', $1, 1)`, other)
		}
		// Two transcripts of someone else's call mention the number; one
		// twice.
		exec(t, db, `INSERT INTO transcripts (call_sid, role, text, created_at) VALUES ('CAother', 'caller', $1, 1)`, "call "+eraseSubject+" or "+eraseSubject)
		exec(t, db, `INSERT INTO transcripts (call_sid, role, text, created_at) VALUES ('CAother', 'caller', $1, 1)`, "call "+enc)
		// Live events too large for NOTIFY: one mentions the number.
		exec(t, db, `INSERT INTO event_payloads (payload, created_at) VALUES ($1, 1)`, `{"from":"`+eraseSubject+`","pad":"`+strings.Repeat("x", 8000)+`"}`)
		exec(t, db, `INSERT INTO event_payloads (payload, created_at) VALUES ($1, 1)`, `{"from":"+15555550199"}`)

		counts, err := db.Privacy().EraseNumber(ctx, eraseSubject, "erased:h")
		if err != nil {
			t.Fatal(err)
		}
		for kind, want := range map[string]int64{privacy.KindAuditEvents: 2, privacy.KindTranscripts: 2, privacy.KindEventPayloads: 1, privacy.KindOther: 0} {
			if got := counts[kind]; got != want {
				t.Fatalf("counts[%s] = %d, want %d (all: %v)", kind, got, want, counts)
			}
		}
		if n := rowCount(t, db, `SELECT COUNT(*) FROM event_payloads`); n != 1 {
			t.Fatalf("event payloads left = %d, want the other one", n)
		}
		if n := rowCount(t, db, `SELECT COUNT(*) FROM audit_events WHERE detail LIKE '%erased:h%'`); n != 2 {
			t.Fatalf("rewritten audit rows = %d, want 2", n)
		}
		if n := rowCount(t, db, `SELECT COUNT(*) FROM audit_events WHERE actor = 'agent erased:h'`); n != 1 {
			t.Fatal("actor column not rewritten")
		}
		if n := rowCount(t, db, `SELECT COUNT(*) FROM audit_events WHERE type = 'other' AND detail NOT LIKE '%erased%'`); n != 3 {
			t.Fatalf("look-alike rows changed: %d left as they were, want 3", n)
		}
		again, err := db.Privacy().EraseNumber(ctx, eraseSubject, "erased:h")
		if err != nil {
			t.Fatal(err)
		}
		for kind, n := range again {
			if n != 0 {
				t.Fatalf("second erasure counts[%s] = %d, want 0", kind, n)
			}
		}
	})
}

// TestExportNumberConferences: the export holds the number's conferences
// and their events, besides the rows it always had.
func TestExportNumberConferences(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		exec(t, db, `INSERT INTO calls (call_sid, from_number, to_number, decision, created_at, updated_at) VALUES ($1, $2, '+15005550001', 'accept', 1, 1)`, eraseCallSID, eraseSubject)
		exec(t, db, `INSERT INTO conferences (name, caller_call_sid, created_at, updated_at) VALUES ($1, $2, 1, 1)`, eraseConf, eraseCallSID)
		exec(t, db, `INSERT INTO conference_events (conference_sid, conference_name, sequence_number, event, created_at) VALUES ('CF1', $1, 1, 'conference-start', 1)`, eraseConf)
		// Someone else's conference the subject was dialled into.
		exec(t, db, `INSERT INTO conferences (name, caller_call_sid, created_at, updated_at) VALUES ('conf_CAother', 'CAother', 2, 2)`)
		exec(t, db, `INSERT INTO conference_participants (conference_name, call_sid, number, role, created_at, updated_at) VALUES ('conf_CAother', 'CAleg', $1, 'target', 2, 2)`, eraseSubject)
		exec(t, db, `INSERT INTO conference_events (conference_sid, conference_name, sequence_number, event, call_sid, created_at) VALUES ('CF2', 'conf_CAother', 1, 'participant-join', 'CAleg', 2)`)
		exec(t, db, `INSERT INTO conference_events (conference_sid, conference_name, sequence_number, event, call_sid, created_at) VALUES ('CF2', 'conf_CAother', 2, 'participant-join', 'CAthird', 2)`)
		// Unrelated.
		exec(t, db, `INSERT INTO conferences (name, caller_call_sid, created_at, updated_at) VALUES ('conf_CAnobody', 'CAnobody', 3, 3)`)

		ex, err := db.Privacy().ExportNumber(context.Background(), eraseSubject)
		if err != nil {
			t.Fatal(err)
		}
		if len(ex.Calls) != 1 || len(ex.ConferenceParticipants) != 1 {
			t.Fatalf("calls %v, participants %v", ex.Calls, ex.ConferenceParticipants)
		}
		var names []string
		for _, c := range ex.Conferences {
			names = append(names, c["name"].(string))
		}
		// The conference the subject was dialled into is someone else's:
		// the subject's part of it is the participant row (and its events).
		if strings.Join(names, ",") != eraseConf {
			t.Fatalf("conferences = %v, want the subject's only", names)
		}
		var evs []string
		for _, e := range ex.ConferenceEvents {
			evs = append(evs, e["conference_sid"].(string)+"/"+e["event"].(string))
		}
		if strings.Join(evs, ",") != "CF1/conference-start,CF2/participant-join" {
			t.Fatalf("conference events = %v, want the subject's conference's and the subject's leg's", evs)
		}
	})
}
