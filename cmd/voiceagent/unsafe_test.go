package main

import (
	"bytes"
	"context"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/config"
)

// TestCheckFailsEveryUnsafeProductionSetting: the unsafe production values all
// at once give one FAIL line per variable, none repeating a value, and
// serve does not start; the softer ones are WARN lines.
func TestCheckFailsEveryUnsafeProductionSetting(t *testing.T) {
	t.Chdir(t.TempDir())
	env := goodProduction(t.TempDir())
	unsafe := map[string]string{
		"REALTIME_URL":        "ws://realtime.example.test/v1/realtime",
		"METRICS_ADDR":        "0.0.0.0:9090",
		"TRUSTED_PROXIES":     "0.0.0.0/0",
		"TWILIO_AUTH_TOKEN":   "x",
		"ALLOWED_ORIGINS":     "https://*.example.org",
		"INTERNAL_API_BEARER": strings.Repeat("z", 32),
		"DATABASE_URL":        "postgres://voiceagent@db.example.test/voiceagent?sslmode=disable",
		"PPROF_ADDR":          "127.0.0.1:6060",
		"TWILIO_PHONE_NUMBER": "",
	}
	for k, v := range unsafe {
		env[k] = v
	}
	env["AGENT_DIAL_POLICY"], env["LOG_LEVEL"], env["AUTH_FAILURE_LIMIT"] = "any", "debug", "500"
	var out bytes.Buffer
	err := run(context.Background(), []string{"check"}, envOf(env), &out, &out)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("check: err = %v, want exit 1\n%s", err, out.String())
	}
	for name, v := range unsafe {
		if !strings.Contains(out.String(), "FAIL  "+name+":") {
			t.Errorf("no FAIL line for %s:\n%s", name, out.String())
		}
		if len(v) >= 4 && strings.Contains(out.String(), v) {
			t.Errorf("check prints the value of %s", name)
		}
	}
	for _, name := range []string{"AGENT_DIAL_POLICY", "LOG_LEVEL", "AUTH_FAILURE_LIMIT"} {
		if !strings.Contains(out.String(), "WARN  "+name+":") {
			t.Errorf("no WARN line for %s:\n%s", name, out.String())
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"serve"}, envOf(env), &out, &out); err == nil || !strings.HasPrefix(err.Error(), "configuration: ") {
		t.Fatalf("serve: err = %v, want a configuration error", err)
	}
}

// syncBuffer is a log sink read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestDevelopmentDefaultsOnAPublicServerWarnAtStart: APP_ENV unset with a
// public https PUBLIC_URL is a WARN line in check and a warning in the
// start-up log.
func TestDevelopmentDefaultsOnAPublicServerWarnAtStart(t *testing.T) {
	t.Chdir(t.TempDir())
	env := map[string]string{"PUBLIC_URL": "https://voice.acme.com", "DATA_DIR": t.TempDir(), "PORT": "0", "ENV_FILE": ""}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"check"}, envOf(env), &out, &out); err != nil {
		t.Fatalf("check: %v", err)
	}
	if !strings.Contains(out.String(), "WARN  APP_ENV:") {
		t.Fatalf("no WARN line for APP_ENV:\n%s", out.String())
	}
	cfg, err := config.Load(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, &bytes.Buffer{}, logs, ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	cancel()
	<-done
	if !strings.Contains(logs.String(), "APP_ENV") || !strings.Contains(logs.String(), "development defaults") {
		t.Fatalf("no start-up warning about APP_ENV:\n%s", logs.String())
	}
}

// TestServeRunsWithTheConfiguredGCTarget: the server sets the garbage
// collector's target from its configuration (DefaultGOGC when GOGC is
// unset) while it runs, and restores the previous one when it returns.
func TestServeRunsWithTheConfiguredGCTarget(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		gogc string
		want int
	}{{"", config.DefaultGOGC}, {"180", 180}} {
		env := map[string]string{"DATA_DIR": t.TempDir(), "PORT": "0", "ENV_FILE": "", "GOGC": tc.gogc}
		cfg, err := config.Load(envOf(env))
		if err != nil {
			t.Fatal(err)
		}
		before := gcPercent()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		ready := make(chan string, 1)
		done := make(chan error, 1)
		go func() { done <- serve(ctx, cfg, &bytes.Buffer{}, &syncBuffer{}, ready) }()
		select {
		case <-ready:
		case err := <-done:
			cancel()
			t.Fatalf("serve: %v", err)
		}
		running := gcPercent()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serve: %v", err)
		}
		after := gcPercent()
		if running != tc.want || after != before {
			t.Errorf("GOGC=%q: target %d while serving (want %d), %d after (want %d restored)", tc.gogc, running, tc.want, after, before)
		}
	}
}

// gcPercent reads the garbage collector's target (Go can only read it by
// setting it: it is put back at once).
func gcPercent() int {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p
}
