package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
)

type auditPage struct {
	Events []struct {
		ID       int64          `json:"id"`
		Type     string         `json:"type"`
		Severity string         `json:"severity"`
		RemoteIP string         `json:"remoteIp"`
		Detail   map[string]any `json:"detail"`
	} `json:"events"`
	NextCursor string `json:"nextCursor"`
}

// getJSON does an authenticated GET from a trusted proxy's client
// address and decodes a 200 answer.
func getJSON(t *testing.T, srv *apptest.Server, path, clientIP string, dst any) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+apptest.Bearer)
	req.Header.Set("X-Forwarded-For", clientIP)
	resp, body := doReq(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
	}
	checkSpec(t, req, resp, body)
	if err := json.Unmarshal(body, dst); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return body
}

func doReq(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

var maskedIPv4 = regexp.MustCompile(`^\d{1,3}\.\d{1,3}\.x\.x$`)

// TestElevenFailedBearerAttemptsRaiseOneAlert: eleven bad tokens within
// the window give exactly one security_alert, whether they come from one
// address (the per-IP lockout raises it) or from eleven (the pattern
// check does); /api/audit lists everything with masked IPs and no token.
func TestElevenFailedBearerAttemptsRaiseOneAlert(t *testing.T) {
	for _, spread := range []bool{false, true} {
		t.Run(map[bool]string{false: "one address", true: "eleven addresses"}[spread], func(t *testing.T) {
			srv := apptest.New(t, apptest.Options{Env: map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"}})
			var guesses []string
			for i := 0; i < 11; i++ {
				ip := "203.0.113.7"
				if spread {
					ip = fmt.Sprintf("203.0.113.%d", 10+i)
				}
				guess := fmt.Sprintf("guess-%02d-0123456789abcdef", i)
				guesses = append(guesses, guess)
				req, _ := http.NewRequest("GET", srv.URL+"/api/whoami", nil)
				req.Header.Set("Authorization", "Bearer "+guess)
				req.Header.Set("X-Forwarded-For", ip)
				if resp, body := doReq(t, req); resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("attempt %d = %d %s", i+1, resp.StatusCode, body)
				}
			}
			srv.Audit.Flush(context.Background())

			var alerts auditPage
			body := getJSON(t, srv, "/api/audit?type=security_alert", "198.51.100.1", &alerts)
			if len(alerts.Events) != 1 || alerts.Events[0].Severity != "warn" {
				t.Fatalf("security alerts = %s, want exactly one", body)
			}
			if got := counterValue(t, srv.Metrics.SecurityAlerts); got != 1 {
				t.Fatalf("security alert metric = %v, want 1", got)
			}
			var fails auditPage
			body = getJSON(t, srv, "/api/audit?type=authentication_failure&limit=500", "198.51.100.1", &fails)
			if len(fails.Events) != 11 || fails.NextCursor != "" {
				t.Fatalf("failures listed = %d (cursor %q), want 11", len(fails.Events), fails.NextCursor)
			}
			for _, e := range append(fails.Events, alerts.Events...) {
				if !maskedIPv4.MatchString(e.RemoteIP) {
					t.Fatalf("remote IP %q is not masked", e.RemoteIP)
				}
			}
			all := string(body)
			for _, secret := range append(guesses, apptest.Bearer, "203.0.113.7", "203.0.113.10") {
				if strings.Contains(all, secret) {
					t.Fatalf("/api/audit shows %q", secret)
				}
			}
		})
	}
}

func TestAuditListPagingAndFilters(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	for i := 0; i < 7; i++ {
		req, _ := http.NewRequest("GET", srv.URL+"/api/whoami", nil)
		req.Header.Set("Authorization", "Bearer nope")
		doReq(t, req)
	}
	srv.Audit.Flush(context.Background())
	seen := map[int64]bool{}
	path := "/api/audit?type=authentication_failure&limit=3"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		var p auditPage
		getJSON(t, srv, path, "127.0.0.1", &p)
		for _, e := range p.Events {
			if seen[e.ID] || e.Type != "authentication_failure" {
				t.Fatalf("event %d repeated or of type %s", e.ID, e.Type)
			}
			seen[e.ID] = true
		}
		if p.NextCursor == "" {
			break
		}
		path = "/api/audit?type=authentication_failure&limit=3&cursor=" + p.NextCursor
	}
	if len(seen) != 7 {
		t.Fatalf("paged through %d events, want 7", len(seen))
	}
	var none auditPage
	getJSON(t, srv, "/api/audit?type=authentication_failure&since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z", "127.0.0.1", &none)
	if len(none.Events) != 0 {
		t.Fatalf("time window ignored: %d events", len(none.Events))
	}

	for _, q := range []string{
		"type=DROP%20TABLE", "since=yesterday", "until=2026-13-01T00:00:00Z", "limit=0", "limit=501", "limit=x",
		"cursor=%%%", "cursor=YWJj", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "token=abc", "type=a&type=b",
	} {
		resp, body := do(t, "GET", srv.URL+"/api/audit?"+q, "Bearer "+apptest.Bearer, nil)
		if resp.StatusCode != http.StatusBadRequest || decodeError(t, body).Error.Code != "invalid" {
			t.Errorf("?%s = %d %s, want 400 invalid", q, resp.StatusCode, body)
		}
	}
	if resp, _ := do(t, "GET", srv.URL+"/api/audit", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a token = %d", resp.StatusCode)
	}
}
