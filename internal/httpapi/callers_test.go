package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

type callerListBody struct {
	List    string `json:"list"`
	Numbers []struct {
		Number string `json:"number"`
		Source string `json:"source"`
	} `json:"numbers"`
}

func listCallers(t *testing.T, srv *apptest.Server, list string) callerListBody {
	t.Helper()
	st, body := apiDo(t, srv, http.MethodGet, "/api/callers/"+list)
	if st != 200 {
		t.Fatalf("GET %s = %d %s", list, st, body)
	}
	var out callerListBody
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCallersAPI: the lists start from the environment, changes apply to
// the next call without a restart, and every change is audited with the
// number masked.
func TestCallersAPI(t *testing.T) {
	srv := newVoiceServer(t, map[string]string{"CALLER_BLACKLIST": "+15555550150"})
	got := listCallers(t, srv, "blocked")
	if got.List != "blocked" || len(got.Numbers) != 1 || got.Numbers[0].Number != "+15555550150" || got.Numbers[0].Source != "env" {
		t.Fatalf("seeded list = %+v", got)
	}
	if empty := listCallers(t, srv, "allowed"); empty.Numbers == nil || len(empty.Numbers) != 0 {
		t.Fatalf("empty list = %+v", empty)
	}

	// Allow list: once non-empty, only listed numbers get through.
	if st, b := apiDo(t, srv, http.MethodPut, "/api/callers/allowed/+15555550101"); st != 201 {
		t.Fatalf("PUT = %d %s", st, b)
	}
	if st, b := apiDo(t, srv, http.MethodPut, "/api/callers/allowed/%2B15555550101"); st != 200 {
		t.Fatalf("PUT again = %d %s", st, b)
	}
	_, body := postTwilio(t, srv, "/voice/incoming", incomingParams(1, caller), nil)
	checkAnswer(t, parseResponse(t, body), voice.Hangup)
	_, body = postTwilio(t, srv, "/voice/incoming", incomingParams(2, otherCaller), nil)
	checkAnswer(t, parseResponse(t, body), voice.Accept)

	if st, b := apiDo(t, srv, http.MethodDelete, "/api/callers/allowed/%2B15555550101"); st != 204 {
		t.Fatalf("DELETE = %d %s", st, b)
	}
	if st, b := apiDo(t, srv, http.MethodDelete, "/api/callers/allowed/%2B15555550101"); st != 404 {
		t.Fatalf("DELETE again = %d %s", st, b)
	}
	_, body = postTwilio(t, srv, "/voice/incoming", incomingParams(3, caller), nil)
	checkAnswer(t, parseResponse(t, body), voice.Accept)

	rows := auditRows(t, srv, "caller_list_change")
	if len(rows) != 2 || rows[0].Actor != "api:primary" || rows[0].Detail["action"] != "add" || rows[1].Detail["action"] != "remove" {
		t.Fatalf("audit = %+v", rows)
	}
	for _, r := range rows {
		if n, _ := r.Detail["number"].(string); strings.Contains(n, "5555550101") {
			t.Fatalf("audit holds the number in clear: %q", n)
		}
	}
}

func TestCallersAPIBadInput(t *testing.T) {
	srv := newVoiceServer(t, nil)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPut, "/api/callers/blocked/not-a-number", 400},
		{http.MethodPut, "/api/callers/blocked/+0555", 400},
		{http.MethodPut, "/api/callers/blocked/%2B1555%3Cscript%3E", 400},
		{http.MethodPut, "/api/callers/blocked/%2B%2B15555550100", 400},
		{http.MethodPut, "/api/callers/blocked/" + strings.Repeat("1", 200), 400},
		{http.MethodDelete, "/api/callers/blocked/abc", 400},
		// Strict E.164: never rewritten to "+5555550142".
		{http.MethodPut, "/api/callers/blocked/5555550142", 400},
		{http.MethodPut, "/api/callers/allowed/005555550142", 400},
		{http.MethodPut, "/api/callers/blocked/%2B1%20555%20555%200142", 400},
		{http.MethodDelete, "/api/callers/blocked/5555550142", 400},
		{http.MethodPut, "/api/callers/everyone/%2B15555550100", 404},
		{http.MethodGet, "/api/callers/blocked?x=1", 400},
		{http.MethodPost, "/api/callers/blocked/%2B15555550100", 405},
	} {
		st, body := apiDo(t, srv, tc.method, tc.path)
		if st != tc.want {
			t.Fatalf("%s %s = %d, want %d (%s)", tc.method, tc.path, st, tc.want, body)
		}
		decodeError(t, body)
	}
	// No bearer token: 401, nothing changed.
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/api/callers/blocked/%2B15555550100", nil)
	if st, _ := send(t, req); st != 401 {
		t.Fatalf("without token = %d", st)
	}
	for _, list := range []string{"blocked", "allowed"} {
		if got := listCallers(t, srv, list); len(got.Numbers) != 0 {
			t.Fatalf("%s list changed: %+v", list, got)
		}
	}
}

// TestCallersPutAlreadyListed: a PUT for a number already on the list
// answers 200 with the stored entry (its source and time), not a new one;
// env lists are normalized by config (API input is not), and their
// entries are addressed by the E.164 form.
func TestCallersPutAlreadyListed(t *testing.T) {
	srv := newVoiceServer(t, map[string]string{"CALLER_BLACKLIST": "1 555 555 0150"})
	got := listCallers(t, srv, "blocked")
	if len(got.Numbers) != 1 || got.Numbers[0].Number != "+15555550150" || got.Numbers[0].Source != "env" {
		t.Fatalf("seeded list = %+v (env values are normalized)", got)
	}
	listed, err := srv.DB.Callers().ListCallers(context.Background(), voice.ListBlocked)
	if err != nil || len(listed) != 1 {
		t.Fatalf("stored = %+v (%v)", listed, err)
	}
	time.Sleep(5 * time.Millisecond) // a rebuilt entry would carry a later time

	st, body := apiDo(t, srv, http.MethodPut, "/api/callers/blocked/%2B15555550150")
	if st != 200 {
		t.Fatalf("PUT listed = %d %s", st, body)
	}
	var e struct {
		Number    string    `json:"number"`
		Source    string    `json:"source"`
		CreatedAt time.Time `json:"createdAt"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatal(err)
	}
	if e.Number != "+15555550150" || e.Source != "env" || !e.CreatedAt.Equal(listed[0].CreatedAt) {
		t.Fatalf("PUT listed = %+v, want the stored entry %+v", e, listed[0])
	}
	if rows := auditRows(t, srv, "caller_list_change"); len(rows) != 0 {
		t.Fatalf("no change, yet audited: %+v", rows)
	}
	if st, b := apiDo(t, srv, http.MethodDelete, "/api/callers/blocked/%2B15555550150"); st != 204 {
		t.Fatalf("DELETE env entry = %d %s", st, b)
	}
}
