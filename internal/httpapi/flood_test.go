package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
)

// floodFor is how long TestRefusalFloodIsBounded floods. The target
// is stated for 10 s (at most 100 audit rows and 1 MB of log); the test
// floods a fraction of that and holds the proportional bound. What it
// asserts are counts, never times.
const floodFor = 2 * time.Second

// TestRefusalFloodIsBounded: unauthenticated requests at full speed to the
// Twilio webhooks and the media-stream upgrade, from one client, add a
// bounded number of audit rows and log bytes; the flooding client is soon
// answered 429; a signed webhook from elsewhere is still served.
func TestRefusalFloodIsBounded(t *testing.T) {
	logs := &apptest.LogBuffer{}
	srv := apptest.New(t, apptest.Options{Logs: logs, Env: map[string]string{
		"TRUSTED_PROXIES": "127.0.0.1/32", "LOG_LEVEL": "info",
	}})
	ctx := context.Background()
	rowsBefore := countAudit(t, srv)
	logBefore := len(logs.String())

	type junk struct{ method, path, sig string }
	kinds := []junk{
		{http.MethodPost, "/voice/incoming", ""},
		{http.MethodPost, "/voice/status", "forged"},
		{http.MethodGet, "/media-stream/tok_0123456789abcdefABCDEF", ""},
		{http.MethodGet, "/call/tok_0123456789abcdefABCDEF", "forged"},
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	var sent, limited atomic.Int64
	deadline := time.Now().Add(floodFor)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i++ {
				k := kinds[i%len(kinds)]
				req, _ := http.NewRequestWithContext(ctx, k.method, srv.URL+k.path, strings.NewReader("CallSid=CA00000000000000000000000000000001"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Forwarded-For", "198.51.100.7")
				if k.sig != "" {
					req.Header.Set("X-Twilio-Signature", k.sig)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				sent.Add(1)
				if resp.StatusCode == http.StatusTooManyRequests {
					limited.Add(1)
				}
			}
		}()
	}
	wg.Wait()

	// A signed webhook from another client is served during and after it.
	status, body := postTwilio(t, srv, "/voice/incoming", incomingParams(1, "+15555550100"), http.Header{"X-Forwarded-For": {"203.0.113.9"}})
	if status != http.StatusOK {
		t.Fatalf("signed webhook after the flood = %d %s", status, body)
	}

	srv.Server.FlushRefusals() // the counts still waiting for their window
	rows := countAudit(t, srv) - rowsBefore
	logBytes := len(logs.String()) - logBefore
	scale := float64(floodFor) / float64(10*time.Second)
	t.Logf("flood: %d requests (%d answered 429), %d audit rows, %d log bytes", sent.Load(), limited.Load(), rows, logBytes)
	if sent.Load() < 100 { // the old code wrote a row for each
		t.Fatalf("only %d requests sent: not a flood", sent.Load())
	}
	if limited.Load() == 0 {
		t.Fatal("the flooding client was never answered 429")
	}
	if maxRows := int(100 * scale); rows > maxRows {
		t.Fatalf("audit rows added = %d, want at most %d", rows, maxRows)
	}
	if maxLog := int(1 << 20 * scale); logBytes > maxLog {
		t.Fatalf("log bytes added = %d, want at most %d", logBytes, maxLog)
	}
}

func countAudit(t *testing.T, srv *apptest.Server) int {
	t.Helper()
	srv.Audit.Flush(context.Background())
	var n int
	if err := srv.DB.SQL.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM audit_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
