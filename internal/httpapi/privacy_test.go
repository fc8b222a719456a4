package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

const (
	subject      = "+15555550142" // the person asking to be erased (callerNumber)
	otherCallSID = "CAfedcba9876543210fedcba9876543210"
)

// columns lists every column of a table, straight from the catalog.
func columns(t *testing.T, db *store.DB, table string) []string {
	t.Helper()
	q := `SELECT name FROM pragma_table_info($1)`
	if db.Engine == store.Postgres {
		q = `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`
	}
	rows, err := db.SQL.QueryContext(context.Background(), q, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// traces finds every table.column holding needle, cast to text.
func traces(t *testing.T, db *store.DB, needles ...string) []string {
	t.Helper()
	ctx := context.Background()
	tables, err := db.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, tb := range tables {
		for _, c := range columns(t, db, tb) {
			for _, n := range needles {
				var cnt int
				q := fmt.Sprintf(`SELECT COUNT(*) FROM %q WHERE CAST(%q AS TEXT) LIKE $1`, tb, c)
				if err := db.SQL.QueryRowContext(ctx, q, "%"+n+"%").Scan(&cnt); err != nil {
					t.Fatalf("%s.%s: %v", tb, c, err)
				}
				if cnt > 0 {
					found = append(found, fmt.Sprintf("%s.%s (%d rows)", tb, c, cnt))
				}
			}
		}
	}
	return found
}

func mustExec(t *testing.T, db *store.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.SQL.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// seedSubject puts the subject's number everywhere the product stores it,
// through the API where there is one.
func seedSubject(t *testing.T, a *opAPI, db *store.DB) {
	t.Helper()
	ms := time.Now().UnixMilli()
	seedCall(t, db, callerSID, subject)
	seedCall(t, db, otherCallSID, "+15555550199")
	for _, body := range []string{
		`{"name":"Subject Person","phoneNumber":"` + subject + `"}`,
		`{"name":"Friend","phoneNumber":"+15555550188","note":"call back on ` + subject + `"}`,
	} {
		if resp, b := a.call("POST", "/api/contacts", body, nil); resp.StatusCode != 201 {
			t.Fatalf("seed contact: %d %s", resp.StatusCode, b)
		}
	}
	// The subject is dialled into the other caller's conference.
	if resp, b := a.call("POST", "/api/conference/add", `{"conferenceName":"conf_`+otherCallSID+`","targetNumber":"`+subject+`"}`, nil); resp.StatusCode != 200 {
		t.Fatalf("seed conference: %d %s", resp.StatusCode, b)
	}
	mustExec(t, db, `INSERT INTO conferences (name, caller_call_sid, created_at, updated_at) VALUES ($1, $2, $3, $3)`, confName, callerSID, ms)
	mustExec(t, db, `INSERT INTO conference_events (conference_sid, conference_name, sequence_number, event, params, created_at) VALUES ('CF00000000000000000000000000000001', $1, 1, 'conference-start', '{}', $2)`, confName, ms)
	mustExec(t, db, `INSERT INTO conference_events (conference_sid, conference_name, sequence_number, event, params, created_at) VALUES ('CF00000000000000000000000000000002', 'conf_x', 1, 'participant-join', $1, $2)`, `{"Label":"`+subject+`"}`, ms)
	mustExec(t, db, `INSERT INTO transcripts (call_sid, role, text, created_at) VALUES ($1, 'caller', 'hello', $2)`, callerSID, ms)
	mustExec(t, db, `INSERT INTO transcripts (call_sid, role, text, created_at) VALUES ($1, 'caller', $2, $3)`, otherCallSID, "my friend is "+subject, ms)
	mustExec(t, db, `INSERT INTO stream_tokens (token_hash, call_sid, created_at, expires_at) VALUES ('h1', $1, $2, $2)`, callerSID, ms)
	mustExec(t, db, `INSERT INTO webhook_receipts (idempotency_key, kind, call_sid, response, created_at) VALUES ('k1', 'voice', $1, '<Response/>', $2)`, callerSID, ms)
	mustExec(t, db, `INSERT INTO webhook_receipts (idempotency_key, kind, call_sid, response, created_at) VALUES ('k2', 'voice', $1, $2, $3)`, otherCallSID, "<Response><Dial>"+subject+"</Dial></Response>", ms)
	mustExec(t, db, `INSERT INTO caller_lists (list, number, source, created_at) VALUES ('blocked', $1, 'api', $2)`, subject, ms)
	mustExec(t, db, `INSERT INTO audit_events (type, severity, detail, created_at) VALUES ('call_decision', 'info', $1, $2)`, `{"from":"`+subject+`","url":"/x?To=%2B`+subject[1:]+`"}`, ms)
	a.srv.Audit.Flush(context.Background())
}

func TestDataExportAndErasure(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		a := newOpAPI(t, db, nil)
		seedSubject(t, a, db)
		if found := traces(t, db, subject); len(found) < 8 {
			t.Fatalf("seed reached only %v", found)
		}

		resp, body := a.call("GET", "/api/data/"+url.PathEscape(subject), "", nil)
		var ex map[string][]map[string]any
		var exTop map[string]json.RawMessage
		if resp.StatusCode != 200 || json.Unmarshal(body, &exTop) != nil {
			t.Fatalf("export = %d %s", resp.StatusCode, body)
		}
		delete(exTop, "phoneNumber")
		raw, _ := json.Marshal(exTop)
		if err := json.Unmarshal(raw, &ex); err != nil {
			t.Fatal(err)
		}
		for kind, min := range map[string]int{"contacts": 1, "calls": 1, "transcripts": 2, "conferences": 1, "conferenceParticipants": 1, "conferenceEvents": 1, "callerLists": 1, "auditEvents": 1} {
			if len(ex[kind]) < min {
				t.Fatalf("export %s = %v, want at least %d", kind, ex[kind], min)
			}
		}

		resp, body = a.call("DELETE", "/api/data/%2B"+subject[1:], "", nil)
		var er struct {
			Erased bool             `json:"erased"`
			Counts map[string]int64 `json:"counts"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(body, &er) != nil || !er.Erased {
			t.Fatalf("erase = %d %s", resp.StatusCode, body)
		}
		for kind, want := range map[string]int64{"contacts": 2, "calls": 1, "callerLists": 1, "conferenceParticipants": 1, "conferences": 1} {
			if er.Counts[kind] != want {
				t.Fatalf("counts[%s] = %d, want %d (all: %v)", kind, er.Counts[kind], want, er.Counts)
			}
		}
		if er.Counts["auditEvents"] < 1 || er.Counts["transcripts"] < 2 {
			t.Fatalf("counts = %v", er.Counts)
		}
		a.srv.Audit.Flush(context.Background())
		if found := traces(t, db, subject, "%2B"+subject[1:]); len(found) > 0 {
			t.Fatalf("number still stored after erasure: %v", found)
		}
		// Other people's data stays.
		if n := count(t, db, "calls"); n != 1 {
			t.Fatalf("calls left = %d, want the other caller's", n)
		}
		if n := count(t, db, "audit_events"); n < 2 {
			t.Fatalf("audit events deleted instead of rewritten: %d", n)
		}
		if n := auditCount(t, a, "data_erasure", "erased:"); n < 1 {
			t.Fatal("erasure not audited with the keyed hash")
		}
		if n := auditCount(t, a, "call_decision", "erased:"); n != 1 {
			t.Fatal("audit event not rewritten with the keyed hash")
		}
		// Erasing again finds nothing: every count is 0.
		resp, body = a.call("DELETE", "/api/data/"+subject, "", nil)
		er.Counts = nil
		if resp.StatusCode != 200 || json.Unmarshal(body, &er) != nil || !er.Erased || len(er.Counts) == 0 {
			t.Fatalf("second erase = %d %s", resp.StatusCode, body)
		}
		for kind, n := range er.Counts {
			if n != 0 {
				t.Fatalf("second erase counts[%s] = %d, want 0 (all: %v)", kind, n, er.Counts)
			}
		}
	})
}

// TestErasureRefusesServiceNumbers: the service's own numbers are refused
// (409, naming the variable), and nothing is erased.
func TestErasureRefusesServiceNumbers(t *testing.T) {
	const own = "+15005550007"
	a := newOpAPI(t, nil, map[string]string{"TWILIO_PHONE_NUMBER": own})
	seedCall(t, a.srv.DB, callerSID, subject)
	mustExec(t, a.srv.DB, `UPDATE calls SET to_number = $1`, own)
	for number, name := range map[string]string{own: "TWILIO_PHONE_NUMBER", outboundNumber: "TWILIO_OUTBOUND_NUMBER"} {
		resp, body := a.call("DELETE", "/api/data/"+url.PathEscape(number), "", nil)
		e := decodeError(t, body)
		if resp.StatusCode != 409 || e.Error.Code != "conflict" || !strings.Contains(e.Error.Message, name) {
			t.Fatalf("erase %s = %d %s", name, resp.StatusCode, body)
		}
	}
	if n := count(t, a.srv.DB, "calls"); n != 1 {
		t.Fatalf("calls = %d after refused erasures, want 1", n)
	}
	if n := auditCount(t, a, "data_erasure", `"action":"erase"`); n != 0 {
		t.Fatalf("refused erasures audited as erasures: %d", n)
	}
}

func TestDataBadNumber(t *testing.T) {
	a := newOpAPI(t, nil, nil)
	for _, n := range []string{"5555550142", "+0555550142", "+1555abc0142", "%2B1", "+1234567890123456"} {
		for _, m := range []string{"GET", "DELETE"} {
			resp, body := a.call(m, "/api/data/"+n, "", nil)
			if resp.StatusCode != 400 || decodeError(t, body).Error.Code != "invalid" {
				t.Fatalf("%s %s = %d %s", m, n, resp.StatusCode, body)
			}
		}
	}
}
