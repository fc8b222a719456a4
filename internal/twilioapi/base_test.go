package twilioapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestAPIBase: with an API base that has a path prefix (a
// Twilio-compatible provider such as SignalWire's /api/laml), CreateCall
// reaches <base>/2010-04-01/Accounts/<sid>/Calls.json on the base's host;
// an invalid base is refused.
func TestAPIBase(t *testing.T) {
	var mu sync.Mutex
	var gotPath, gotHost string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotPath, gotHost = r.URL.Path, r.Host
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"CA0123456789abcdef0123456789abcdef","status":"queued"}`))
	}))
	defer srv.Close()
	c, err := New(Credentials{AccountSID: "AC00000000000000000000000000000000", AuthToken: "token123"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetAPIBase(srv.URL + "/api/laml/"); err != nil {
		t.Fatal(err)
	}
	sid, status, err := c.CreateCall(context.Background(), OutboundCall{To: "+14155550123", From: "+14155550100", URL: "https://voice.example.test/voice/outbound"})
	if err != nil || sid != "CA0123456789abcdef0123456789abcdef" || status != "queued" {
		t.Fatalf("CreateCall = %q %q %v", sid, status, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if gotPath != "/api/laml/2010-04-01/Accounts/AC00000000000000000000000000000000/Calls.json" || gotHost != srv.Listener.Addr().String() {
		t.Fatalf("request went to %s%s", gotHost, gotPath)
	}
	for _, bad := range []string{"ftp://x.example.test", "https://user:pw@x.example.test", "https://x.example.test/?a=1", "api.twilio.com"} {
		if err := c.SetAPIBase(bad); err == nil {
			t.Errorf("SetAPIBase(%q) accepted", bad)
		}
	}
}
