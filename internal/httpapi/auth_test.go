package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

func auditCount(t *testing.T, a *opAPI, typ, detailLike string) int {
	t.Helper()
	a.srv.Audit.Flush(context.Background())
	var n int
	err := a.srv.DB.SQL.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM audit_events WHERE type = $1 AND detail LIKE $2`, typ, "%"+detailLike+"%").Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSeedCurlBehaviours: the README's curl examples.
func TestSeedCurlBehaviours(t *testing.T) {
	a := newOpAPI(t, nil, nil)
	for _, tc := range []struct {
		name, auth string
		status     int
		msg        string
	}{
		{"valid token", "Bearer " + apptest.Bearer, 200, ""},
		{"missing", "", 401, "Missing Bearer token"},
		{"invalid", "Bearer wrong-token", 401, "Invalid token"},
		{"token without Bearer", apptest.Bearer, 401, "Missing Bearer token"},
	} {
		resp, body := a.call("GET", "/api/contacts", "", map[string]string{"Authorization": tc.auth})
		if resp.StatusCode != tc.status {
			t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
		if tc.status == 401 {
			if decodeError(t, body).Error.Message != tc.msg || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("%s: %s %v", tc.name, body, resp.Header)
			}
		}
	}
	if n := auditCount(t, a, "authentication_failure", "/api/contacts"); n != 3 {
		t.Fatalf("authentication_failure events = %d, want 3", n)
	}
}

func TestRotationLogsTokenName(t *testing.T) {
	logs := &apptest.LogBuffer{}
	srv := apptest.New(t, apptest.Options{Logs: logs, Env: map[string]string{"INTERNAL_API_BEARER": apptest.Bearer + "," + apptest.BearerNext}})
	for _, tok := range []string{apptest.Bearer, apptest.BearerNext} {
		resp, body := do(t, "GET", srv.URL+"/api/contacts", "Bearer "+tok, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"auth-success"`) || !strings.Contains(out, `"token":"primary"`) || !strings.Contains(out, `"token":"next"`) {
		t.Fatalf("auth-success lines missing:\n%s", out)
	}
	apptest.AssertNoLeaks(t, "logs", out, srv.Config)
}

// TestBruteForceLockout: more than AUTH_FAILURE_LIMIT failures from one
// client IP lock that IP out for guesses, but a right token is still
// served (otherwise anyone behind the same NAT could lock an operator
// out); other IPs are not affected.
func TestBruteForceLockout(t *testing.T) {
	a := newOpAPI(t, storetest.SQLite(t), map[string]string{"AUTH_FAILURE_LIMIT": "3", "TRUSTED_PROXIES": "127.0.0.1/32"})
	from := func(ip, auth string) (*http.Response, []byte) {
		return a.call("GET", "/api/whoami", "", map[string]string{"Authorization": auth, "X-Forwarded-For": ip})
	}
	const attacker, other = "203.0.113.7", "198.51.100.9"
	for i := 0; i < 3; i++ {
		if resp, _ := from(attacker, "Bearer guess"); resp.StatusCode != 401 {
			t.Fatalf("failure %d = %d", i+1, resp.StatusCode)
		}
	}
	if resp, _ := from(attacker, "Bearer "+apptest.Bearer); resp.StatusCode != 200 {
		t.Fatalf("at the limit, a right token still works: %d", resp.StatusCode)
	}
	if resp, _ := from(attacker, "Bearer guess"); resp.StatusCode != 401 {
		t.Fatalf("4th failure = %d", resp.StatusCode)
	}
	// Locked: guesses get 429 (not counted or audited again) ...
	resp, body := from(attacker, "Bearer guess-again")
	if resp.StatusCode != 429 || decodeError(t, body).Error.Code != "rate_limited" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("locked out, wrong token = %d %s", resp.StatusCode, body)
	}
	// ... a right token from the same address is served.
	if resp, body := from(attacker, "Bearer "+apptest.Bearer); resp.StatusCode != 200 {
		t.Fatalf("locked address with the right token = %d %s, want 200", resp.StatusCode, body)
	}
	if resp, _ := from(other, "Bearer "+apptest.Bearer); resp.StatusCode != 200 {
		t.Fatalf("other IP = %d", resp.StatusCode)
	}
	if n := auditCount(t, a, "security_alert", "auth_lockout"); n != 1 {
		t.Fatalf("lockout alerts = %d, want 1", n)
	}
	if n := auditCount(t, a, "authentication_failure", "Invalid token"); n != 4 {
		t.Fatalf("failure events = %d, want 4", n)
	}
	a.srv.Audit.Flush(context.Background())
	var ips string
	if err := a.srv.DB.SQL.QueryRow(`SELECT remote_ip FROM audit_events WHERE type = 'security_alert'`).Scan(&ips); err != nil || strings.Contains(ips, attacker) {
		t.Fatalf("alert remote_ip = %q (%v), want masked", ips, err)
	}
}

// TestLockoutIPv6Per64: an IPv6 guesser cannot escape the lockout by
// moving through its /64; a neighbouring /64 is not locked.
func TestLockoutIPv6Per64(t *testing.T) {
	a := newOpAPI(t, storetest.SQLite(t), map[string]string{"AUTH_FAILURE_LIMIT": "2", "TRUSTED_PROXIES": "127.0.0.1/32"})
	from := func(ip, auth string) int {
		resp, _ := a.call("GET", "/api/whoami", "", map[string]string{"Authorization": auth, "X-Forwarded-For": ip})
		return resp.StatusCode
	}
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"} {
		if got := from(ip, "Bearer guess"); got != 401 {
			t.Fatalf("failure %d from %s = %d", i+1, ip, got)
		}
	}
	if got := from("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "Bearer guess"); got != 429 {
		t.Fatalf("another address in the same /64 = %d, want 429", got)
	}
	if got := from("2001:db8:1:3::1", "Bearer guess"); got != 401 {
		t.Fatalf("another /64 = %d, want 401", got)
	}
}

func TestAPIRateLimit(t *testing.T) {
	a := newOpAPI(t, nil, map[string]string{"API_REQUESTS_PER_MINUTE": "3"})
	for i := 0; i < 3; i++ {
		if resp, body := a.call("GET", "/api/whoami", "", nil); resp.StatusCode != 200 {
			t.Fatalf("request %d = %d %s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := a.call("GET", "/api/whoami", "", nil)
	if resp.StatusCode != 429 || decodeError(t, body).Error.Code != "rate_limited" {
		t.Fatalf("over the limit = %d %s", resp.StatusCode, body)
	}
}

func TestCORS(t *testing.T) {
	const allowed, denied = "https://ops.example.test", "https://evil.example.test"
	a := newOpAPI(t, nil, map[string]string{"ALLOWED_ORIGINS": allowed})
	preflight := func(origin string) *http.Response {
		resp, _ := a.call("OPTIONS", "/api/contacts", "", map[string]string{
			"Authorization": "", "Origin": origin,
			"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization, content-type",
		})
		return resp
	}
	resp := preflight(allowed)
	if resp.StatusCode >= 300 {
		t.Fatalf("preflight = %d (must be answered before bearer auth)", resp.StatusCode)
	}
	h := resp.Header
	if h.Get("Access-Control-Allow-Origin") != allowed || h.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "PUT") || !strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Fatalf("preflight headers = %v", h)
	}
	if resp := preflight(denied); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("denied origin allowed: %v", resp.Header)
	}
	resp, _ = a.call("GET", "/api/contacts", "", map[string]string{"Origin": allowed})
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != allowed {
		t.Fatalf("actual request = %d %v", resp.StatusCode, resp.Header)
	}
	// Default: no origin is allowed.
	b := newOpAPI(t, nil, nil)
	resp, _ = b.call("OPTIONS", "/api/contacts", "", map[string]string{"Authorization": "", "Origin": allowed, "Access-Control-Request-Method": "GET"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("no ALLOWED_ORIGINS, yet allowed: %v", resp.Header)
	}
}

// TestAuthFailureAuditMasksNumbers: a failed bearer check on a route whose
// path holds a phone number, and the lockout alert it raises, audit the
// path with the number masked.
func TestAuthFailureAuditMasksNumbers(t *testing.T) {
	a := newOpAPI(t, nil, map[string]string{"AUTH_FAILURE_LIMIT": "1"})
	for _, req := range []struct{ method, path string }{{"GET", "/api/data/%2B15555550142"}, {"PUT", "/api/callers/blocked/%2B15555550142"}} {
		if resp, body := a.call(req.method, req.path, "", map[string]string{"Authorization": "Bearer guess"}); resp.StatusCode != 401 {
			t.Fatalf("%s %s = %d %s", req.method, req.path, resp.StatusCode, body)
		}
	}
	if n := auditCount(t, a, "authentication_failure", "/api/"); n != 2 {
		t.Fatalf("authentication_failure events = %d, want 2", n)
	}
	if n := auditCount(t, a, "security_alert", "auth_lockout"); n != 1 {
		t.Fatalf("lockout alerts = %d, want 1", n)
	}
	rows, err := a.srv.DB.SQL.QueryContext(context.Background(), `SELECT type, detail FROM audit_events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var typ, detail string
		if err := rows.Scan(&typ, &detail); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(detail, "5555550142") {
			t.Fatalf("%s detail holds the number: %s", typ, detail)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
