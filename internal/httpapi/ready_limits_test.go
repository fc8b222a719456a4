package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
)

// TestReadyTellsLimitsToAToken: /ready's details name the call limits the
// server admits under, so `simulate --url` can plan its over-capacity
// scenario; the public body does not.
func TestReadyTellsLimitsToAToken(t *testing.T) {
	srv := apptest.New(t, apptest.Options{Env: map[string]string{"MAX_CONCURRENT_CALLS": "7", "CALLS_PER_MINUTE": "33"}})
	if _, body := do(t, "GET", srv.URL+"/ready", "", nil); strings.Contains(string(body), "limits") {
		t.Fatalf("public /ready = %s, want no limits without a token", body)
	}
	resp, body := do(t, "GET", srv.URL+"/ready", "Bearer "+apptest.Bearer, nil)
	var got struct {
		Limits struct {
			MaxConcurrentCalls int `json:"max_concurrent_calls"`
			CallsPerMinute     int `json:"calls_per_minute"`
		} `json:"limits"`
	}
	if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/ready = %d %s (%v)", resp.StatusCode, body, err)
	}
	if got.Limits.MaxConcurrentCalls != 7 || got.Limits.CallsPerMinute != 33 {
		t.Fatalf("limits = %+v, want 7 concurrent and 33 a minute", got.Limits)
	}
}
