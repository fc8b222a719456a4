package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/phone"
	"github.com/voiceagent/voiceagent/internal/privacy"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// Numbers of the collision seed: all reserved example numbers.
const (
	collSubject   = "+14155550177"
	collLonger    = "+141555501771" // the subject with a digit more
	collOneOff    = "+14155550178"  // one digit different
	collDenied    = "+14155550199"  // deny-listed; its prefix is erased
	collDenPrefix = "+1415555019"
	collService   = "+15005550006" // TWILIO_PHONE_NUMBER
	collSvcPrefix = "+1500555000"
)

// seedCollisions fills every table with the subject's data and with
// other people's numbers that look like it: prefixes, a longer number,
// one digit different, the service number, in written forms.
func seedCollisions(t *testing.T, db *store.DB) {
	t.Helper()
	sid := func(n int) string { return fmt.Sprintf("CA%032x", n) }
	calls := []struct{ sid, from, name string }{
		{sid(1), collSubject, "EXAMPLE SUBJECT"},
		{sid(2), collLonger, "call back 415-555-0177 please"}, // someone else's call naming the subject
		{sid(3), collOneOff, "EXAMPLE ONE OFF"},
		{sid(4), collDenied, "EXAMPLE DENIED"},
	}
	for _, c := range calls {
		exec(t, db, `INSERT INTO calls (call_sid, from_number, to_number, caller_name, decision, twiml, created_at, updated_at) VALUES ($1, $2, $3, $4, 'accept', '<Response/>', 1, 1)`, c.sid, c.from, collService, c.name)
		exec(t, db, `INSERT INTO stream_tokens (token_hash, call_sid, created_at, expires_at) VALUES ($1, $2, 1, 1)`, "h"+c.sid, c.sid)
		exec(t, db, `INSERT INTO webhook_receipts (idempotency_key, kind, call_sid, response, created_at) VALUES ($1, 'voice', $2, '<Response/>', 1)`, "k"+c.sid, c.sid)
	}
	transcripts := []struct{ sid, text string }{
		{sid(1), "hello this is me"},
		{sid(2), "my friend is +1 (415) 555-0177 and I am +1 (415) 555-0177 1"},
		{sid(2), "write down 415.555.0177 or 4 1 5 5 5 5 0 1 7 7, not 415.555.0178"},
		{sid(3), "call 415 555 0177, then 4155550199 and 415-555-01770"},
		{sid(3), "the office is 1500-555-0006 and extension 415-555-0177-1"},
		{sid(4), "nothing here but +14155550199 and 41555501"},
	}
	for _, tr := range transcripts {
		exec(t, db, `INSERT INTO transcripts (call_sid, role, text, created_at) VALUES ($1, 'caller', $2, 1)`, tr.sid, tr.text)
	}
	for i, c := range []struct{ number, note string }{
		{collSubject, "the subject"}, {collDenied, "reach via (415) 555-0177"}, {collLonger, "extension of 415-555-0177"}, {collOneOff, ""},
	} {
		exec(t, db, `INSERT INTO contacts (id, name, name_key, phone_number, note, created_at, updated_at) VALUES ($1, $2, $2, $3, $4, 1, 1)`, fmt.Sprintf("c%d", i), fmt.Sprintf("contact%d", i), c.number, c.note)
	}
	for _, n := range []string{collSubject, collDenied, collLonger} {
		exec(t, db, `INSERT INTO caller_lists (list, number, created_at) VALUES ('blocked', $1, 1)`, n)
	}
	exec(t, db, `INSERT INTO conferences (name, caller_call_sid, created_at, updated_at) VALUES ($1, $2, 1, 1)`, "conf_"+sid(3), sid(3))
	exec(t, db, `INSERT INTO conference_participants (conference_name, call_sid, number, role, created_at, updated_at) VALUES ($1, $2, $3, 'target', 1, 1)`, "conf_"+sid(3), sid(9), collSubject)
	exec(t, db, `INSERT INTO conference_participants (conference_name, call_sid, number, role, created_at, updated_at) VALUES ($1, $2, $3, 'caller', 1, 1)`, "conf_"+sid(3), sid(3), collOneOff)
	exec(t, db, `INSERT INTO conference_events (conference_sid, conference_name, sequence_number, event, call_sid, params, created_at) VALUES ('CF1', $1, 1, 'participant-join', $2, $3, 1)`, "conf_"+sid(3), sid(9), `{"To":"`+collSubject+`"}`)
	exec(t, db, `INSERT INTO conference_events (conference_sid, conference_name, sequence_number, event, call_sid, params, created_at) VALUES ('CF1', $1, 2, 'participant-join', $2, $3, 1)`, "conf_"+sid(3), sid(3), `{"From":"`+collOneOff+`","Note":"%2B14155550177"}`)
	for _, d := range []string{
		`{"from":"` + collSubject + `"}`, `{"url":"/x?From=%2B14155550177&To=%2B15005550006"}`, `{"from":"` + collLonger + `"}`,
		`{"from":"` + collDenied + `"}`, `{"number":"+1 415 555 0177"}`,
	} {
		exec(t, db, `INSERT INTO audit_events (type, detail, created_at) VALUES ('call_decision', $1, 1)`, d)
	}
	exec(t, db, `INSERT INTO event_payloads (payload, created_at) VALUES ($1, 1)`, `{"text":"415 555 0177"}`)
	exec(t, db, `INSERT INTO event_payloads (payload, created_at) VALUES ($1, 1)`, `{"text":"415 555 0178"}`)
	// Webhook events waiting for delivery and the delivery log: the
	// subject's call's rows (by relation), someone else's call whose
	// event mentions the subject (deleted: a whole JSON document), and
	// rows of other calls that do not.
	outbox := []struct {
		n            int
		sid, payload string
	}{
		{1, sid(1), `{"callSid":"` + sid(1) + `","from":"` + collSubject + `"}`},
		{2, sid(2), `{"detail":{"note":"call back 415-555-0177"}}`},
		{3, sid(3), `{"from":"` + collOneOff + `"}`},
		{4, sid(4), ""},
	}
	for _, o := range outbox {
		exec(t, db, `INSERT INTO webhook_outbox (delivery_id, event_id, subscription_id, type, call_sid, order_key, payload, created_at, next_attempt_at) VALUES ($1, $2, 'wh_0000000000000001', 'call.started', $3, $3, $4, 1, 1)`,
			fmt.Sprintf("dlv_%d", o.n), fmt.Sprintf("evt_%d", o.n), o.sid, o.payload)
		exec(t, db, `INSERT INTO webhook_deliveries (delivery_id, event_id, subscription_id, type, call_sid, state, attempts, created_at, updated_at) VALUES ($1, $2, 'wh_0000000000000001', 'call.started', $3, 'delivered', 1, 1, 1)`,
			fmt.Sprintf("dlv_%d", o.n), fmt.Sprintf("evt_%d", o.n), o.sid)
	}
}

// dump is every row of every table, as canonical JSON keyed by table.
func dump(t *testing.T, db *store.DB) map[string]bool {
	t.Helper()
	tables, err := db.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, table := range tables {
		rows, err := db.SQL.QueryContext(context.Background(), `SELECT * FROM `+table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			m := map[string]any{}
			for i, c := range cols {
				if b, ok := vals[i].([]byte); ok {
					vals[i] = string(b)
				}
				m[c] = vals[i]
			}
			out[rowKey(table, m)] = true
		}
		rows.Close()
	}
	return out
}

func rowKey(table string, row map[string]any) string {
	b, _ := json.Marshal(row)
	return table + " " + string(b)
}

var kindTable = map[string]string{
	privacy.KindContacts: "contacts", privacy.KindCalls: "calls", privacy.KindTranscripts: "transcripts",
	privacy.KindConferences: "conferences", privacy.KindConferenceParticipants: "conference_participants",
	privacy.KindConferenceEvents: "conference_events", privacy.KindCallerLists: "caller_lists",
	privacy.KindAuditEvents: "audit_events", privacy.KindStreamTokens: "stream_tokens",
	privacy.KindWebhookReceipts: "webhook_receipts", privacy.KindEventPayloads: "event_payloads",
	privacy.KindWebhookOutbox: "webhook_outbox", privacy.KindWebhookDeliveries: "webhook_deliveries",
}

// exportKeys is the set of rows an export lists, keyed as dump keys them.
func exportKeys(ex privacy.Export) map[string]bool {
	out := map[string]bool{}
	for kind, rows := range map[string][]map[string]any{
		privacy.KindContacts: ex.Contacts, privacy.KindCalls: ex.Calls, privacy.KindTranscripts: ex.Transcripts,
		privacy.KindConferences: ex.Conferences, privacy.KindConferenceParticipants: ex.ConferenceParticipants,
		privacy.KindConferenceEvents: ex.ConferenceEvents, privacy.KindCallerLists: ex.CallerLists,
		privacy.KindAuditEvents: ex.AuditEvents, privacy.KindStreamTokens: ex.StreamTokens,
		privacy.KindWebhookReceipts: ex.WebhookReceipts, privacy.KindEventPayloads: ex.EventPayloads,
		privacy.KindWebhookOutbox: ex.WebhookOutbox, privacy.KindWebhookDeliveries: ex.WebhookDeliveries,
	} {
		for _, r := range rows {
			out[rowKey(kindTable[kind], r)] = true
		}
	}
	for _, r := range ex.Other {
		table := r["_table"].(string)
		c := map[string]any{}
		for k, v := range r {
			if k != "_table" {
				c[k] = v
			}
		}
		out[rowKey(table, c)] = true
	}
	return out
}

func minus(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// TestErasureWholeNumber: erasing a number touches it only as a whole
// number; every other number (prefixes, a longer number, one digit
// apart, the service number) stays byte-identical; the export lists
// exactly the rows the erasure deletes or rewrites; the number is gone
// in every written form afterwards. Erasing prefixes of a deny-listed
// number and of the service number changes nothing of them.
func TestErasureWholeNumber(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seedCollisions(t, db)
		others := []string{collLonger, collOneOff, collDenied, collService, "415.555.0178", "4155550199", "415-555-01770",
			"1500-555-0006", "415-555-0177-1", "and 41555501", "+1 (415) 555-0177 1", "%2B15005550006", "415 555 0178"}
		count := func(rows map[string]bool, s string) int {
			n := 0
			for k := range rows {
				n += strings.Count(k, s)
			}
			return n
		}

		// Prefixes of other people's numbers erase nothing.
		for _, p := range []string{collDenPrefix, collSvcPrefix} {
			before := dump(t, db)
			ex, err := db.Privacy().ExportNumber(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if k := exportKeys(ex); len(k) != 0 {
				t.Fatalf("export of prefix %s lists %v", p, minus(k, nil))
			}
			if _, err := db.Privacy().EraseNumber(ctx, p, "erased:p"); err != nil {
				t.Fatal(err)
			}
			if gone := minus(before, dump(t, db)); len(gone) != 0 {
				t.Fatalf("erasing the prefix %s changed rows: %v", p, gone)
			}
		}

		before := dump(t, db)
		ex, err := db.Privacy().ExportNumber(ctx, collSubject)
		if err != nil {
			t.Fatal(err)
		}
		exported := exportKeys(ex)
		counts, err := db.Privacy().EraseNumber(ctx, collSubject, "erased:h")
		if err != nil {
			t.Fatal(err)
		}
		after := dump(t, db)
		changed := map[string]bool{}
		for _, k := range minus(before, after) {
			changed[k] = true
		}
		if extra, missing := minus(exported, changed), minus(changed, exported); len(extra)+len(missing) != 0 {
			t.Fatalf("export and erasure disagree:\nexported, not erased: %v\nerased, not exported: %v", extra, missing)
		}
		var total int64
		for _, n := range counts {
			total += n
		}
		if int(total) != len(changed) {
			t.Fatalf("counts %v add up to %d, %d rows changed", counts, total, len(changed))
		}
		// A changed row was either deleted or rewritten; a rewritten row
		// differs from the old one only where the old one spelled the
		// number, so every other number in it is byte-identical.
		m, _ := phone.NewMatcher(collSubject)
		deleted := map[string]bool{}
		perTable := map[string]int{}
		for k := range changed {
			if rewritten, _ := m.Replace(k, "erased:h"); !after[rewritten] {
				deleted[k] = true
				perTable[strings.Fields(k)[0]]++
			}
		}
		for table, want := range map[string]int{"calls": 1, "stream_tokens": 1, "webhook_receipts": 1, "transcripts": 1, "contacts": 1,
			"caller_lists": 1, "conference_participants": 1, "conference_events": 1, "event_payloads": 1,
			"webhook_outbox": 2, "webhook_deliveries": 1} {
			if perTable[table] != want {
				t.Errorf("deleted from %s: %d rows, want %d (all %v)", table, perTable[table], want, perTable)
			}
		}
		for kind, want := range map[string]int64{privacy.KindCalls: 2, privacy.KindCallerLists: 1, privacy.KindContacts: 3,
			privacy.KindConferenceParticipants: 1, privacy.KindConferenceEvents: 2, privacy.KindEventPayloads: 1, privacy.KindAuditEvents: 3,
			privacy.KindTranscripts: 4, privacy.KindWebhookOutbox: 2, privacy.KindWebhookDeliveries: 1} {
			if counts[kind] != want {
				t.Errorf("counts[%s] = %d, want %d (all %v)", kind, counts[kind], want, counts)
			}
		}
		for _, o := range others {
			if b, a, d := count(before, o), count(after, o), count(deleted, o); a != b-d || a == 0 {
				t.Errorf("%q occurs %d times after the erasure, %d before, %d in the subject's deleted rows", o, a, b, d)
			}
		}
		for k := range after {
			if m.Contains(k) {
				t.Errorf("the number is still stored: %s", k)
			}
		}
		// The deny-list entries of the others are untouched.
		if n := rowCount(t, db, `SELECT COUNT(*) FROM caller_lists WHERE list = 'blocked' AND number IN ($1, $2)`, collDenied, collLonger); n != 2 {
			t.Fatalf("deny-list entries left = %d, want 2", n)
		}
	})
}
