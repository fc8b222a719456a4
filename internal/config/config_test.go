package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// testBearer is a made-up bearer with enough variety for production.
const testBearer = "tb-Xw7qLm2RzT9vKc4NpJ8sHd3YgB6fVa1E"

func prodEnv() map[string]string {
	return map[string]string{
		"APP_ENV":             "production",
		"PUBLIC_URL":          "https://voice.example.test",
		"TWILIO_ACCOUNT_SID":  "AC00000000000000000000000000000000",
		"TWILIO_AUTH_TOKEN":   "0000000000000000000000000000beef",
		"TWILIO_PHONE_NUMBER": "+15555550199",
		"OPENAI_API_KEY":      "sk-test-not-real",
		"INTERNAL_API_BEARER": testBearer,
		"PRIVACY_HASH_KEY":    strings.Repeat("k", 32),
		"TWILIO_API_KEY":      "SK00000000000000000000000000000000",
		"TWILIO_API_SECRET":   "test-api-secret-not-real",
		"DATABASE_URL":        "postgres://voiceagent@db.example.test/voiceagent",
	}
}

func TestDevelopmentStartsWithNothingSet(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Env != Development || c.Port != 8080 || c.LogFormat != "text" || c.DrainTimeout != 30*time.Second {
		t.Fatalf("defaults = %s %d %s %s", c.Env, c.Port, c.LogFormat, c.DrainTimeout)
	}
	if !c.BearerGenerated || len(c.BearerTokens) != 1 || len(c.BearerTokens[0].Value) != 64 {
		t.Fatalf("want one generated 64-hex token, got %+v", c.BearerTokens)
	}
	if len(c.Features()) == 0 {
		t.Fatal("Features() should list what is off")
	}
}

func TestProductionRefusals(t *testing.T) {
	tests := []struct {
		name     string
		change   map[string]string
		wantVars []string
	}{
		{"missing auth token", map[string]string{"TWILIO_AUTH_TOKEN": ""}, []string{"TWILIO_AUTH_TOKEN"}},
		{"short bearer", map[string]string{"INTERNAL_API_BEARER": "short"}, []string{"INTERNAL_API_BEARER"}},
		{"short second bearer", map[string]string{"INTERNAL_API_BEARER": testBearer + ",short"}, []string{"INTERNAL_API_BEARER"}},
		{"http public url", map[string]string{"PUBLIC_URL": "http://voice.example.test"}, []string{"PUBLIC_URL"}},
		{"wildcard origins", map[string]string{"ALLOWED_ORIGINS": "https://a.example.test,*"}, []string{"ALLOWED_ORIGINS"}},
		{"validation off", map[string]string{"TWILIO_VALIDATE": "false"}, []string{"TWILIO_VALIDATE"}},
		{"missing bearer", map[string]string{"INTERNAL_API_BEARER": ""}, []string{"INTERNAL_API_BEARER"}},
		{"two at once", map[string]string{"OPENAI_API_KEY": "", "PUBLIC_URL": ""}, []string{"OPENAI_API_KEY", "PUBLIC_URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := prodEnv()
			for k, v := range tt.change {
				e[k] = v
			}
			_, err := Load(env(e))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, v := range tt.wantVars {
				if !strings.Contains(err.Error(), v) {
					t.Errorf("error %q does not name %s", err, v)
				}
			}
		})
	}
}

func TestProductionValidPasses(t *testing.T) {
	c, err := Load(env(prodEnv()))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.LogFormat != "json" {
		t.Fatalf("LogFormat = %s, want json in production", c.LogFormat)
	}
	if Failed(c.Checklist()) {
		t.Fatalf("checklist fails for a good production config: %v", c.Checklist())
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	tests := map[string]string{
		"SHUTDOWN_DRAIN_TIMEOUT": "soon",
		"PORT":                   "http",
		"PUBLIC_URL":             "::not a url",
		"DATABASE_URL":           "mysql://x",
		"LOG_FORMAT":             "xml",
		"TWILIO_VALIDATE":        "perhaps",
		"TWILIO_PHONE_NUMBER":    "call me",
		"CALLER_BLACKLIST":       "+15005550006,abc",
		"BLOCKED_COUNTRIES":      "USA",
		"TRUSTED_PROXIES":        "10.0.0.0/99",
		"REALTIME_URL":           "https://api.example.test",
		"MAX_CONCURRENT_CALLS":   "-1",
		"TWILIO_ACCOUNT_SID":     "not-a-sid",
	}
	for name, val := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(map[string]string{name: val}))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("Load(%s=%q) error = %v, want one naming %s", name, val, err, name)
			}
		})
	}
}

func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "token")
	if err := os.WriteFile(p, []byte("file-secret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(map[string]string{"TWILIO_AUTH_TOKEN_FILE": p, "INTERNAL_API_BEARER_FILE": p}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TwilioAuthToken != "file-secret-value" || c.BearerTokens[0].Value != "file-secret-value" {
		t.Fatalf("secrets from file = %q %q", c.TwilioAuthToken, c.BearerTokens[0].Value)
	}
	_, err = Load(env(map[string]string{"TWILIO_AUTH_TOKEN_FILE": p, "TWILIO_AUTH_TOKEN": "x"}))
	if err == nil || !strings.Contains(err.Error(), "TWILIO_AUTH_TOKEN") {
		t.Fatalf("both set: err = %v", err)
	}
	_, err = Load(env(map[string]string{"OPENAI_API_KEY_FILE": filepath.Join(dir, "missing")}))
	if err == nil || !strings.Contains(err.Error(), "OPENAI_API_KEY_FILE") {
		t.Fatalf("missing file: err = %v", err)
	}
}

func TestRotationAndNormalization(t *testing.T) {
	c, err := Load(env(map[string]string{
		"INTERNAL_API_BEARER":    "one-token, two-token",
		"TWILIO_OUTBOUND_NUMBER": "15005550006",
		"TWILIO_PHONE_NUMBER":    "+1 (500) 555-0007",
		"BLOCKED_COUNTRIES":      "kp, ir",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.BearerTokens) != 2 || c.BearerTokens[0].Name != "primary" || c.BearerTokens[1].Name != "next" || c.BearerTokens[1].Value != "two-token" {
		t.Fatalf("tokens = %+v", c.BearerTokens)
	}
	if c.TwilioOutboundNumber != "+15005550006" || c.TwilioPhoneNumber != "+15005550007" {
		t.Fatalf("numbers = %s %s", c.TwilioOutboundNumber, c.TwilioPhoneNumber)
	}
	if strings.Join(c.BlockedCountries, ",") != "KP,IR" {
		t.Fatalf("countries = %v", c.BlockedCountries)
	}
}

func TestStringMasksSecrets(t *testing.T) {
	e := prodEnv()
	e["DATABASE_URL"] = "postgres://voiceagent:db-password-secret@db.example.test/voiceagent"
	c, err := Load(env(e))
	if err != nil {
		t.Fatal(err)
	}
	s := c.String() + c.GoString()
	for _, secret := range append(c.Secrets(), "db-password-secret") {
		if strings.Contains(s, secret) {
			t.Fatalf("String() leaks %q: %s", secret, s)
		}
	}
}

func TestChecklistWarnsInDevelopmentFailsInProduction(t *testing.T) {
	dev, err := Load(env(map[string]string{"TWILIO_VALIDATE": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	checks := dev.Checklist()
	if Failed(checks) {
		t.Fatalf("development checklist should only warn: %v", checks)
	}
	found := false
	for _, c := range checks {
		if c.Name == "TWILIO_VALIDATE" && c.Status == Warn {
			found = true
		}
	}
	if !found {
		t.Fatalf("no TWILIO_VALIDATE warning in %v", checks)
	}
}

// TestOutboundSettings: defaults, a bad quiet-hours window and a bad API
// base are refused with the variable named; quiet hours off is a WARN
// line in production.
func TestOutboundSettings(t *testing.T) {
	c, err := Load(env(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Outbound.APIBaseURL != "https://api.twilio.com" || c.Outbound.QuietHours.String() != "21:00-08:00" || c.Outbound.PerMinute != 10 || c.Outbound.PerDay != 500 {
		t.Fatalf("defaults = %+v", c.Outbound)
	}
	for name, e := range map[string]map[string]string{
		"OUTBOUND_QUIET_HOURS":      {"OUTBOUND_QUIET_HOURS": "21-08"},
		"TWILIO_API_BASE_URL":       {"TWILIO_API_BASE_URL": "ftp://api.example.test"},
		"OUTBOUND_CALLS_PER_MINUTE": {"OUTBOUND_CALLS_PER_MINUTE": "0"},
		"OUTBOUND_CALLS_PER_DAY":    {"OUTBOUND_CALLS_PER_DAY": "x"},
	} {
		if _, err := Load(env(e)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error = %v", name, err)
		}
	}
	e := prodEnv()
	e["OUTBOUND_QUIET_HOURS"] = "off"
	warned := false
	for _, c := range LoadForCheck(env(e)) {
		warned = warned || (c.Status == Warn && checkVar(c.Name) == "OUTBOUND_QUIET_HOURS")
	}
	if !warned {
		t.Fatal("no WARN line for OUTBOUND_QUIET_HOURS=off in production")
	}
	e["TWILIO_API_BASE_URL"] = "https://compat.example.test/api/laml"
	warned = false
	for _, c := range LoadForCheck(env(e)) {
		warned = warned || (c.Status == Warn && checkVar(c.Name) == "TWILIO_API_BASE_URL" && !strings.Contains(c.String(), "compat.example.test"))
	}
	if !warned {
		t.Fatal("no WARN line (without the value) for a TWILIO_API_BASE_URL other than Twilio's")
	}
}
