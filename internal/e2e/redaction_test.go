package e2e

import (
	"context"
	"database/sql"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// redactSubject is the caller of this test, and the number it speaks in
// every written form.
const redactSubject = "+14155550123"

var redactForms = []string{"+1 (415) 555-0123", "415-555-0123", "415.555.0123", "415 555 0123", "4 1 5 5 5 5 0 1 2 3", "%2B14155550123", "14155550123"}

// TestRedactionEverywhere runs a whole call whose caller and agent say the
// caller's number in every written form, plus operator requests with the
// number in their paths in those forms (refused with 4xx), and then
// searches the whole process log, the audit table and everything a /logs
// viewer received: the number appears nowhere, in no form. Both engines.
func TestRedactionEverywhere(t *testing.T) {
	storetest.Engines(t, redactionEverywhere)
}

func redactionEverywhere(t *testing.T, db *store.DB) {
	r := newRig(t, rigOptions{DB: db, Realtime: fake.RealtimeOptions{
		UserTranscripts: []string{"call me on " + strings.Join(redactForms, " or ")},
		Responses:       []fake.ScriptedResponse{{Transcript: "Noted: 415-555-0123 and +1 (415) 555-0123."}},
	}})
	ctx := ctxFor(t, 60*time.Second)

	// A /logs viewer that keeps everything it receives.
	wsURL := "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/logs"
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Authorization": {"Bearer " + apptest.Bearer}})
	if err != nil {
		t.Fatalf("dial /logs: %v", err)
	}
	var mu sync.Mutex
	var viewer strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			mu.Lock()
			viewer.Write(b)
			viewer.WriteByte('\n')
			mu.Unlock()
		}
	}()

	_, c := r.call(ctx, t, redactSubject, fake.MediaOptions{})
	if err := c.WaitFor(ctx, func() bool { return len(c.MarksReceived()) >= 1 }); err != nil {
		t.Fatal("no greeting")
	}
	for _, step := range []func() error{func() error { return c.SendSilence(30) }, func() error { return c.SendSpeech(20) }, func() error { return c.SendSilence(40) }} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	transcripts := func() int {
		var n int
		if err := r.srv.DB.SQL.QueryRowContext(ctx, `SELECT COUNT(*) FROM transcripts WHERE role = 'caller'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := c.WaitFor(ctx, func() bool { return transcripts() >= 1 }); err != nil {
		t.Fatal("the caller's transcript line never arrived")
	}
	for _, p := range []string{"/api/callers/blocked/415-555-0123", "/api/data/415.555.0123", "/api/data/+1%20(415)%20555-0123",
		"/api/callers/allowed/%2B14155550123", "/api/nothing/4155550123", "/api/contacts/4%201%205%205%205%205%200%201%202%203"} {
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			req, err := http.NewRequestWithContext(ctx, m, r.srv.URL+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+apptest.Bearer)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	r.srv.Audit.Flush(ctx)

	audit := auditText(ctx, t, r.srv.DB.SQL)
	conn.Close()
	<-done
	mu.Lock()
	seen := viewer.String()
	mu.Unlock()
	if !strings.Contains(seen, "transcript") {
		t.Fatalf("the viewer saw no transcript line: %.400s", seen)
	}
	apptest.AssertNoLeaks(t, "audit table", audit, r.srv.Config, redactSubject)
	apptest.AssertNoLeaks(t, "/logs viewer", seen, r.srv.Config, redactSubject)
	apptest.AssertNoLeaks(t, "server log", r.logs.String(), r.srv.Config, redactSubject)
}

// auditText is every audit row as text.
func auditText(ctx context.Context, t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.QueryContext(ctx, `SELECT type, actor, remote_ip, call_sid, detail FROM audit_events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var typ, actor, ip, sid, detail string
		if err := rows.Scan(&typ, &actor, &ip, &sid, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.Join([]string{typ, actor, ip, sid, detail}, " ") + "\n")
	}
	return b.String()
}
