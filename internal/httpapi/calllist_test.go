package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/store"
)

type callsPage struct {
	Calls []struct {
		CallSID     string `json:"callSid"`
		From        string `json:"from"`
		To          string `json:"to"`
		Status      string `json:"status"`
		Active      bool   `json:"active"`
		DurationSec *int64 `json:"durationSec"`
	} `json:"calls"`
	NextCursor string `json:"nextCursor"`
}

// seedCalls writes call rows directly: n ended calls and one live one.
func seedCalls(t *testing.T, srv *apptest.Server, n int) {
	t.Helper()
	base := time.Now().Add(-time.Hour)
	for i := 0; i <= n; i++ {
		status, active, ended, dur := "completed", 0, any(store.Millis(base.Add(time.Duration(i)*time.Minute+30*time.Second))), any(30)
		if i == n {
			status, active, ended, dur = "in-progress", 1, nil, nil
		}
		_, err := srv.DB.SQL.Exec(`INSERT INTO calls (call_sid, from_number, to_number, decision, status, active, duration_sec, created_at, updated_at, ended_at)
VALUES ($1, $2, $3, 'accept', $4, $5, $6, $7, $7, $8)`,
			fmt.Sprintf("CA%032x", i+1), "+14155550123", "+14155550100", status, active, dur, store.Millis(base.Add(time.Duration(i)*time.Minute)), ended)
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestCallsListMaskedPagedFiltered(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	seedCalls(t, srv, 5)

	var all callsPage
	body := getJSON(t, srv, "/api/calls", "127.0.0.1", &all)
	if len(all.Calls) != 6 || !all.Calls[0].Active || all.Calls[0].Status != "in-progress" {
		t.Fatalf("calls = %s", body)
	}
	if strings.Contains(string(body), "4155550123") || strings.Contains(string(body), "4155550100") {
		t.Fatalf("numbers not masked: %s", body)
	}
	if !strings.HasSuffix(all.Calls[0].From, "23") {
		t.Fatalf("masked caller %q should keep its last digits", all.Calls[0].From)
	}

	var live callsPage
	getJSON(t, srv, "/api/calls?status=active", "127.0.0.1", &live)
	if len(live.Calls) != 1 || live.Calls[0].CallSID != all.Calls[0].CallSID {
		t.Fatalf("active calls = %+v", live.Calls)
	}
	var seen []string
	path := "/api/calls?status=ended&limit=2"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		var p callsPage
		getJSON(t, srv, path, "127.0.0.1", &p)
		for _, c := range p.Calls {
			if c.DurationSec == nil || *c.DurationSec != 30 {
				t.Fatalf("ended call without its duration: %+v", c)
			}
			seen = append(seen, c.CallSID)
		}
		if p.NextCursor == "" {
			break
		}
		path = "/api/calls?status=ended&limit=2&cursor=" + p.NextCursor
	}
	if len(seen) != 5 || seen[0] != all.Calls[1].CallSID || seen[4] != all.Calls[5].CallSID {
		t.Fatalf("paged ended calls = %v", seen)
	}

	for _, q := range []string{"status=DROP", "status=" + strings.Repeat("a", 40), "limit=0", "limit=201", "cursor=bm9wZQ", "from=%2B14155550123", "cursor=%zz"} {
		resp, body := do(t, "GET", srv.URL+"/api/calls?"+q, "Bearer "+apptest.Bearer, nil)
		if resp.StatusCode != http.StatusBadRequest || decodeError(t, body).Error.Code != "invalid" {
			t.Errorf("?%s = %d %s, want 400 invalid", q, resp.StatusCode, body)
		}
		if strings.Contains(string(body), "4155550123") {
			t.Errorf("?%s: the error echoes a number: %s", q, body)
		}
	}
	if resp, _ := do(t, "GET", srv.URL+"/api/calls", "Bearer wrong", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token = %d", resp.StatusCode)
	}

	shown := apptest.New(t, apptest.Options{Env: map[string]string{"LOGS_SHOW_NUMBERS": "true"}})
	seedCalls(t, shown, 0)
	var raw callsPage
	getJSON(t, shown, "/api/calls", "127.0.0.1", &raw)
	if raw.Calls[0].From != "+14155550123" {
		t.Fatalf("LOGS_SHOW_NUMBERS=true: from = %q", raw.Calls[0].From)
	}
}
