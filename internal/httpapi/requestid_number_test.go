package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
)

// TestRequestIDIsNotAPhoneNumber: the request ID is logged as it is (an
// identifier, exempt from redaction), so a client-chosen X-Request-ID that
// is a phone number ("14155550177", "415-555-0177") is replaced by a
// fresh one instead of reaching every log line of the request unmasked.
func TestRequestIDIsNotAPhoneNumber(t *testing.T) {
	logs := &apptest.LogBuffer{}
	srv := apptest.New(t, apptest.Options{Logs: logs, Env: map[string]string{"LOG_LEVEL": "debug"}})
	for _, id := range []string{"14155550177", "415-555-0177", "004915123456789"} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/api/whoami", nil)
		req.Header.Set("X-Request-ID", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Request-ID"); got == id || got == "" {
			t.Errorf("X-Request-ID %q answered as %q, want a fresh ID", id, got)
		}
		if strings.Contains(logs.String(), id) {
			t.Errorf("the log holds the request ID %q", id)
		}
	}
	// An ordinary ID is kept.
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/health", nil)
	req.Header.Set("X-Request-ID", "req-abc_123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-ID"); got != "req-abc_123" {
		t.Fatalf("X-Request-ID = %q, want the client's", got)
	}
}
