package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestSimulateScenarioWithNoEnvironment runs `voiceagent simulate` as a
// fresh clone would (no variable set) for two quick scenarios and expects
// the table and exit status 0. The whole scenario list runs in
// internal/e2e.
func TestSimulateScenarioWithNoEnvironment(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range []string{"blocked-caller", "over-capacity"} {
		var out, errOut bytes.Buffer
		err := run(ctx, []string{"simulate", "--scenario", name}, func(string) string { return "" }, &out, &errOut)
		if err != nil {
			t.Fatalf("simulate --scenario %s: %v\n%s%s", name, err, out.String(), errOut.String())
		}
		if !strings.Contains(out.String(), name) || !strings.Contains(out.String(), "all 1 scenarios passed") {
			t.Fatalf("simulate output:\n%s", out.String())
		}
	}
}

func TestSimulateUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"simulate", "--scenario", "nope"},
		{"simulate", "--no-such-flag"},
		{"simulate", "extra"},
		{"simulate", "--load", "--calls", "0"},
		{"simulate", "--floor"},
		{"simulate", "--webhooks", "--floor"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%v: err = %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
}

func TestSimulateRemoteNeedsCredentials(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"simulate", "--url", "http://127.0.0.1:1"}, func(string) string { return "" }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "TWILIO_AUTH_TOKEN") {
		t.Fatalf("err = %v, want the missing variables named", err)
	}
}
