package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/audit"
)

// TestRefusalsIPv6Per64: an IPv6 client that moves through its /64 (one
// subscriber's allocation: 2^64 addresses) is one client to the refusal
// throttle and to the aggregation, like the bearer lockout: it is soon
// answered 429, and its refusals make one audit row, not one per address.
func TestRefusalsIPv6Per64(t *testing.T) {
	srv := apptest.New(t, apptest.Options{Env: map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"}})
	before := len(auditRows(t, srv, audit.TypeAuthFailure))
	limited := 0
	for i := 1; i <= 40; i++ {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/voice/incoming", strings.NewReader("CallSid=CA00000000000000000000000000000001"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("2001:db8:1:2:%x::1", i))
		status, _ := send(t, req)
		if status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("40 unsigned webhooks from one /64 were never answered 429")
	}
	if rows := len(auditRows(t, srv, audit.TypeAuthFailure)) - before; rows > 2 {
		t.Fatalf("audit rows for one /64's refusals = %d, want at most 2 (one per reason)", rows)
	}
}
