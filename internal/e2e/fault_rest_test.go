package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/sim"
)

// TestTwilioRESTFailures: Twilio answers 500 or 429 to the conference
// calls. The operator gets 502 with a generic message (no Twilio detail),
// the server's retries stay bounded, and it works again once Twilio does.
func TestTwilioRESTFailures(t *testing.T) {
	r := newRig(t, rigOptions{})
	ctx := ctxFor(t, 60*time.Second)
	a, err := r.target.Place(ctx, "+15555550113", sim.ServiceNumber)
	if err != nil || a.Decision() != "stream" {
		t.Fatalf("place call: %v (%s)", err, a.Decision())
	}
	body, _ := json.Marshal(map[string]string{"conferenceName": "conf_" + a.CallSID(), "targetNumber": sim.ContactNumber})
	add := func() (int, string) {
		code, resp, err := r.target.API(ctx, http.MethodPost, "/api/conference/add", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		return code, string(resp)
	}
	for _, tc := range []struct {
		name         string
		status, code int
	}{
		{"server error", http.StatusInternalServerError, 20500},
		{"rate limited", http.StatusTooManyRequests, 20429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.rest.Reset()
			r.rest.Fail("", tc.status, tc.code, 0)
			defer r.rest.ClearFailures()
			start := time.Now()
			got, resp := add()
			if got != http.StatusBadGateway {
				t.Fatalf("POST /api/conference/add = %d %s, want 502", got, resp)
			}
			if strings.Contains(resp, "scripted failure") || strings.Contains(resp, "twilio.com") || strings.Contains(resp, "AC0000") {
				t.Errorf("the 502 body leaks Twilio's answer: %s", resp)
			}
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if json.Unmarshal([]byte(resp), &e) != nil || e.Error.Message == "" {
				t.Errorf("502 body %q is not the error shape", resp)
			}
			n := len(r.rest.Requests())
			t.Logf("Twilio answered %d: %d REST requests, operator got %d", tc.status, n, got)
			if n < 1 || n > 4 {
				t.Errorf("%d REST requests for one operator call, want 1-4 (bounded retries)", n)
			}
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("the failing call took %s", took)
			}
		})
	}
	r.rest.Reset()
	if got, resp := add(); got != http.StatusOK {
		t.Fatalf("after Twilio recovered: %d %s, want 200", got, resp)
	}
	if len(r.rest.Requests(fake.OpCreateParticipant)) != 1 {
		t.Fatalf("participant creations = %d, want 1", len(r.rest.Requests(fake.OpCreateParticipant)))
	}
	noPanic(t, r)
}
