package httpapi_test

import (
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
)

// TestReadyWarnsAboutDevelopmentDefaults: a server whose PUBLIC_URL is a
// public https address but whose APP_ENV was never set says so in /ready's
// details (which need a token; the public body stays ok/not ok).
func TestReadyWarnsAboutDevelopmentDefaults(t *testing.T) {
	srv := apptest.New(t, apptest.Options{Env: map[string]string{"APP_ENV": "", "PUBLIC_URL": "https://voice.acme.com"}})
	if _, body := do(t, "GET", srv.URL+"/ready", "", nil); strings.Contains(string(body), "APP_ENV") {
		t.Fatalf("public /ready = %s, want no details without a token", body)
	}
	resp, body := do(t, "GET", srv.URL+"/ready", "Bearer "+apptest.Bearer, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "APP_ENV") {
		t.Fatalf("/ready = %d %s, want a warning naming APP_ENV", resp.StatusCode, body)
	}
	quiet := apptest.New(t, apptest.Options{})
	if _, body := do(t, "GET", quiet.URL+"/ready", "Bearer "+apptest.Bearer, nil); strings.Contains(string(body), "warnings") {
		t.Fatalf("/ready of a development server on a test host warns: %s", body)
	}
}
