package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/audit"
)

// guess is a well-formed scoped token that exists nowhere: each one is a
// token-store lookup unless it is refused first.
func guess(i int) string { return fmt.Sprintf("%s%043d", apitoken.Prefix, i) }

// TestBearerGuessesThrottledOnLogsAndReady: /logs, /ready and /metrics
// take bearer tokens outside /api and its per-IP rate limit; a client that
// keeps failing there is answered 429 (Retry-After 60) before its token is
// looked up, like a client that keeps failing the Twilio routes. The
// lockout is set out of reach, so what answers is the refusal throttle.
func TestBearerGuessesThrottledOnLogsAndReady(t *testing.T) {
	for _, surface := range []string{"logs", "ready", "metrics"} {
		t.Run(surface, func(t *testing.T) {
			srv := apptest.New(t, apptest.Options{Env: map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32", "AUTH_FAILURE_LIMIT": "1000"}})
			var last *http.Response
			for i := 0; i < 30; i++ {
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/"+surface, nil)
				req.Header.Set("Authorization", "Bearer "+guess(i))
				req.Header.Set("X-Forwarded-For", "203.0.113.7")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				last = resp
			}
			if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") != "60" {
				t.Fatalf("30th guess on /%s = %d (Retry-After %q), want 429 from the refusal throttle", surface, last.StatusCode, last.Header.Get("Retry-After"))
			}
			if got := counterValue(t, srv.Metrics.RefusalsLimited.WithLabelValues(surface)); got < 1 {
				t.Fatalf("voiceagent_refusals_rate_limited_total{surface=%q} = %v", surface, got)
			}
			// Another client is not affected.
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/ready", nil)
			req.Header.Set("Authorization", "Bearer "+apptest.Bearer)
			req.Header.Set("X-Forwarded-For", "198.51.100.9")
			if status, body := send(t, req); status != http.StatusOK {
				t.Fatalf("/ready from another client with the right token = %d %s", status, body)
			}
		})
	}
}

// TestAccessDeniedAggregated: a token that keeps calling a route outside
// its scopes gets 403 each time, but the audit trail gets one
// access_denied row per (address, token, scope) per minute carrying the
// count, not one per request.
func TestAccessDeniedAggregated(t *testing.T) {
	a := newOpAPI(t, nil, nil)
	_, secret, err := a.srv.Tokens.Create(context.Background(), "cli", "viewer", []apitoken.Scope{apitoken.CallsRead}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		resp, body := a.call("POST", "/api/contacts", `{"name":"Ada","phoneNumber":"+14155550101"}`, map[string]string{"Authorization": "Bearer " + secret})
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "token lacks scope contacts:write") {
			t.Fatalf("request %d = %d %s", i, resp.StatusCode, body)
		}
	}
	a.srv.Server.FlushRefusals()
	rows := auditRows(t, a.srv, audit.TypeAccessDenied)
	if len(rows) > 2 {
		t.Fatalf("access_denied rows for 50 refusals = %d, want at most 2", len(rows))
	}
	total := 0.0
	for _, r := range rows {
		if r.Actor != "viewer" || r.Detail["scope"] != "contacts:write" {
			t.Fatalf("access_denied row = %+v, want actor viewer and scope contacts:write", r)
		}
		n, _ := r.Detail["count"].(float64)
		total += n
	}
	if total != 50 {
		t.Fatalf("access_denied rows count %v refusals, want 50", total)
	}
}
