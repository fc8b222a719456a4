package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
)

// TestUntrustedForwardedForWarnsOncePerPeer: X-Forwarded-For from a peer
// outside TRUSTED_PROXIES is ignored and logged once for that peer, not
// once per request, so a client cannot flood the log with it.
func TestUntrustedForwardedForWarnsOncePerPeer(t *testing.T) {
	logs := &apptest.LogBuffer{}
	srv := apptest.New(t, apptest.Options{Logs: logs, Env: map[string]string{"TRUSTED_PROXIES": "192.0.2.10/32"}})
	for i := 0; i < 5; i++ {
		req := map[string]string{"X-Forwarded-For": "203.0.113.50"}
		resp, body := doHdr(t, "GET", srv.URL+"/health", req)
		if resp.StatusCode != 200 {
			t.Fatalf("/health = %d %s", resp.StatusCode, body)
		}
	}
	if n := strings.Count(logs.String(), `"event":"untrusted_forwarded_for"`); n != 1 {
		t.Fatalf("untrusted X-Forwarded-For warnings = %d, want 1\n%s", n, logs.String())
	}
	// The header was ignored: the access log shows the peer, not the claim.
	if strings.Contains(logs.String(), "203.0.113") {
		t.Fatal("the forwarded address reached the log")
	}
}

func doHdr(t *testing.T, method, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}
