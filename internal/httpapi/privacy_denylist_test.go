package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// TestErasureKeepsDenyList: a deny-listed caller asking for the erasure
// of a prefix of their own number is refused (not a possible number) and,
// erased below the API anyway, the prefix takes nothing of their entry:
// their next call is still refused. Erasing a number one digit away and a
// prefix of the service number leaves the entry and every call's To as
// they were.
func TestErasureKeepsDenyList(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		const (
			denied  = "+14155550199"
			service = "+15005550006"
		)
		srv := apptest.New(t, apptest.Options{DB: db, Env: map[string]string{"REALTIME_URL": "ws://127.0.0.1:1/v1/realtime", "TWILIO_PHONE_NUMBER": service}})
		if st, b := apiDo(t, srv, http.MethodPut, "/api/callers/blocked/"+url.PathEscape(denied)); st != 201 {
			t.Fatalf("PUT blocked = %d %s", st, b)
		}
		call := func(n int) voice.Decision {
			p := incomingParams(n, denied)
			p.Set("To", service)
			if st, body := postTwilio(t, srv, "/voice/incoming", p, nil); st != 200 {
				t.Fatalf("incoming = %d %s", st, body)
			}
			return callRecord(t, srv, p.Get("CallSid")).Decision
		}
		if d := call(1); d != voice.Reject {
			t.Fatalf("first call = %s, want reject", d)
		}
		for _, p := range []string{"+1415555019", "+1500555000"} {
			if st, b := apiDo(t, srv, http.MethodDelete, "/api/data/"+url.PathEscape(p)); st != 400 {
				t.Fatalf("erase prefix %s = %d %s, want 400", p, st, b)
			}
			if _, err := db.Privacy().EraseNumber(context.Background(), p, "erased:x"); err != nil {
				t.Fatal(err)
			}
		}
		if st, b := apiDo(t, srv, http.MethodDelete, "/api/data/"+url.PathEscape("+14155550198")); st != 200 {
			t.Fatalf("erase one digit away = %d %s", st, b)
		}
		if d := call(2); d != voice.Reject {
			t.Fatalf("call after the erasures = %s, want reject: the deny list was bypassed", d)
		}
		if n := rowCount(t, db, `SELECT COUNT(*) FROM calls WHERE to_number = $1`, service); n != 2 {
			t.Fatalf("calls to the service number = %d, want 2", n)
		}
		if n := rowCount(t, db, `SELECT COUNT(*) FROM caller_lists WHERE number = $1`, denied); n != 1 {
			t.Fatalf("deny-list entries = %d, want 1", n)
		}
	})
}

func rowCount(t *testing.T, db *store.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.SQL.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}
