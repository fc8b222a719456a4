package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/sim"
)

// remoteEnv is what an operator exports for `simulate --url` against p.
func remoteEnv(p *sim.InProcess) func(string) string {
	env := map[string]string{
		"PUBLIC_URL":          p.Target.PublicURL,
		"TWILIO_AUTH_TOKEN":   p.Creds.AuthToken,
		"TWILIO_ACCOUNT_SID":  p.Creds.AccountSID,
		"INTERNAL_API_BEARER": p.Creds.Bearer,
		"TWILIO_PHONE_NUMBER": p.Target.CalledNumber,
	}
	return func(k string) string { return env[k] }
}

// TestSimulateRemoteOverCapacityOnDefaultLimits: against a server on the
// default limits (50 calls at once, 10 a minute) the over-capacity
// scenario cannot fill the server before the rate throttles it: it says
// what it needs and is skipped, not failed ("call 9 of 50 (under
// capacity) answered with busy" before).
func TestSimulateRemoteOverCapacityOnDefaultLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := sim.StartInProcess(ctx, sim.InProcessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var out bytes.Buffer
	err = run(ctx, []string{"simulate", "--url", p.Target.BaseURL, "--scenario", "over-capacity", "--realtime-listen", "127.0.0.1:0"}, remoteEnv(p), &out, &out)
	if err != nil {
		t.Fatalf("simulate --url on default limits: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "skip") || !strings.Contains(out.String(), "needs CALLS_PER_MINUTE of at least 52") {
		t.Fatalf("output does not say what the scenario needs:\n%s", out.String())
	}
}

// TestSimulateRemoteReadsLimits: the server's limits come from its /ready
// (no --capacity given), so the scenario fills exactly its capacity.
func TestSimulateRemoteReadsLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := sim.StartInProcess(ctx, sim.InProcessOptions{Env: map[string]string{"MAX_CONCURRENT_CALLS": "3", "CALLS_PER_MINUTE": "100"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var out bytes.Buffer
	err = run(ctx, []string{"simulate", "--url", p.Target.BaseURL, "--scenario", "over-capacity", "--realtime-listen", "127.0.0.1:0"}, remoteEnv(p), &out, &out)
	if err != nil {
		t.Fatalf("simulate --url: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "3 live calls kept") {
		t.Fatalf("output:\n%s", out.String())
	}
}
