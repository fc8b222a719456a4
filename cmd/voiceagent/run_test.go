package main

import (
	"bytes"
	"context"
	"go.uber.org/goleak"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func goodProduction(dir string) map[string]string {
	return map[string]string{
		"APP_ENV":             "production",
		"PUBLIC_URL":          "https://voice.example.test",
		"DATABASE_URL":        "postgres://voiceagent@db.example.test/voiceagent",
		"TWILIO_ACCOUNT_SID":  "AC00000000000000000000000000000000",
		"TWILIO_AUTH_TOKEN":   "0000000000000000000000000000beef",
		"TWILIO_PHONE_NUMBER": "+15555550199",
		"TWILIO_API_KEY":      "SK00000000000000000000000000000000",
		"TWILIO_API_SECRET":   "test-api-secret-not-real",
		"OPENAI_API_KEY":      "sk-test-not-real",
		"INTERNAL_API_BEARER": "tb-Xw7qLm2RzT9vKc4NpJ8sHd3YgB6fVa1E",
		"PRIVACY_HASH_KEY":    strings.Repeat("k", 40),
		"ENV_FILE":            "",
		"DATA_DIR":            dir,
	}
}

func TestCheck(t *testing.T) {
	t.Chdir(t.TempDir()) // no stray .env
	var out, errb bytes.Buffer
	env := goodProduction(t.TempDir())
	if err := run(context.Background(), []string{"check"}, envOf(env), &out, &errb); err != nil {
		t.Fatalf("check with a good production config: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "PASS") || strings.Contains(out.String(), "FAIL") {
		t.Fatalf("checklist:\n%s", out.String())
	}
	for _, s := range []string{env["TWILIO_AUTH_TOKEN"], env["INTERNAL_API_BEARER"], env["OPENAI_API_KEY"]} {
		if strings.Contains(out.String(), s) {
			t.Fatalf("checklist prints a secret")
		}
	}

	env["TWILIO_AUTH_TOKEN"] = ""
	out.Reset()
	err := run(context.Background(), []string{"check"}, envOf(env), &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "TWILIO_AUTH_TOKEN") || exitCode(err) != 1 {
		t.Fatalf("check without TWILIO_AUTH_TOKEN: err = %v", err)
	}
	if !strings.Contains(out.String(), "FAIL  TWILIO_AUTH_TOKEN") || !strings.Contains(out.String(), "PASS  OPENAI_API_KEY") {
		t.Fatalf("check without TWILIO_AUTH_TOKEN prints no FAIL line for it, or not the whole checklist:\n%s", out.String())
	}
}

// TestCheckPrintsEveryRefusalAsAFailLine: what serve refuses to start
// with, check prints as FAIL lines naming the variable (exit 1), and no
// line holds a secret value.
func TestCheckPrintsEveryRefusalAsAFailLine(t *testing.T) {
	t.Chdir(t.TempDir())
	const secret = "replace-with-your-openai-key-sk-live-0123"
	env := goodProduction(t.TempDir())
	env["INTERNAL_API_BEARER"] = "short-secret-token"
	env["PUBLIC_URL"] = "http://voice.example.test"
	env["ALLOWED_ORIGINS"] = "*"
	env["TWILIO_VALIDATE"] = "false"
	env["OPENAI_API_KEY"] = secret
	env["SHUTDOWN_DRAIN_TIMEOUT"] = "forever"
	var out bytes.Buffer
	err := run(context.Background(), []string{"check"}, envOf(env), &out, &out)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("check: err = %v, want exit 1", err)
	}
	for _, name := range []string{"INTERNAL_API_BEARER", "PUBLIC_URL", "ALLOWED_ORIGINS", "TWILIO_VALIDATE", "OPENAI_API_KEY", "SHUTDOWN_DRAIN_TIMEOUT"} {
		if !strings.Contains(out.String(), "FAIL  "+name+":") {
			t.Errorf("no FAIL line for %s:\n%s", name, out.String())
		}
	}
	for _, s := range []string{secret, "short-secret-token", env["TWILIO_AUTH_TOKEN"], env["PRIVACY_HASH_KEY"]} {
		if strings.Contains(out.String(), s) || strings.Contains(err.Error(), s) {
			t.Fatalf("check prints a secret value %q:\n%s", s, out.String())
		}
	}
	// serve still refuses to start with the same configuration.
	out.Reset()
	if err := run(context.Background(), []string{"serve"}, envOf(env), &out, &out); err == nil || !strings.HasPrefix(err.Error(), "configuration: ") {
		t.Fatalf("serve: err = %v, want a configuration error", err)
	}
}

func TestCheckWarnsWhenValidationIsOffInDevelopment(t *testing.T) {
	t.Chdir(t.TempDir())
	var out bytes.Buffer
	err := run(context.Background(), []string{"check"}, envOf(map[string]string{"TWILIO_VALIDATE": "false"}), &out, &out)
	if err != nil {
		t.Fatalf("development check should not fail: %v", err)
	}
	if !strings.Contains(out.String(), "WARN  TWILIO_VALIDATE") {
		t.Fatalf("no warning line for TWILIO_VALIDATE:\n%s", out.String())
	}
}

func TestBadConfigurationIsOneLineNamingTheVariable(t *testing.T) {
	t.Chdir(t.TempDir())
	tests := map[string]map[string]string{
		"SHUTDOWN_DRAIN_TIMEOUT": {"SHUTDOWN_DRAIN_TIMEOUT": "forever"},
		"PUBLIC_URL":             {"PUBLIC_URL": "ftp://x"},
		"INTERNAL_API_BEARER":    {"APP_ENV": "production", "INTERNAL_API_BEARER": "weak"},
	}
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), []string{"serve"}, envOf(env), &out, &out)
			if err == nil || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %q, want one line naming %s", err, name)
			}
		})
	}
}

func TestVersionAndUnknownCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, envOf(nil), &out, &out); err != nil || !strings.HasPrefix(out.String(), "voiceagent ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	err := run(context.Background(), []string{"frobnicate"}, envOf(nil), &out, &out)
	if err == nil || exitCode(err) != 2 {
		t.Fatalf("unknown command: err = %v", err)
	}
}

func TestDotEnvIsReadAndEnvironmentWins(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := writeFile(".env", "APP_ENV=production\nLOG_LEVEL=debug\n"); err != nil {
		t.Fatal(err)
	}
	getenv, err := withDotEnv(envOf(map[string]string{"APP_ENV": "development"}))
	if err != nil {
		t.Fatal(err)
	}
	if getenv("APP_ENV") != "development" || getenv("LOG_LEVEL") != "debug" {
		t.Fatalf("APP_ENV=%q LOG_LEVEL=%q", getenv("APP_ENV"), getenv("LOG_LEVEL"))
	}
	if _, err := withDotEnv(envOf(map[string]string{"ENV_FILE": "missing.env"})); err == nil || !strings.Contains(err.Error(), "ENV_FILE") {
		t.Fatalf("missing ENV_FILE: err = %v", err)
	}
}

// TestMalformedDotEnvDoesNotLeakItsContents: a parse error names the file,
// never the text godotenv quotes from it (which may be a secret).
func TestMalformedDotEnvDoesNotLeakItsContents(t *testing.T) {
	const secret = "sk-secret-value-0123456789"
	for _, tt := range []struct {
		name, envFile, file, want string
	}{
		{"default .env", "", ".env", ".env cannot be parsed"},
		{"ENV_FILE", "prod.env", "prod.env", "ENV_FILE prod.env cannot be parsed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			if err := writeFile(tt.file, "APP_ENV=production\nOPENAI_API_KEY=\""+secret+"\n"); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := run(context.Background(), []string{"check"}, envOf(map[string]string{"ENV_FILE": tt.envFile}), &out, &out)
			if err == nil || exitCode(err) != 1 {
				t.Fatalf("err = %v, want exit 1", err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("err = %q, want %q", got, tt.want)
			}
			if strings.Contains(err.Error()+out.String(), secret) || strings.Contains(err.Error()+out.String(), "sk-secret") {
				t.Fatalf("output leaks the file's contents: %q %q", err, out.String())
			}
		})
	}
}

func TestMigrateOnSQLite(t *testing.T) {
	t.Chdir(t.TempDir())
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate"}, envOf(map[string]string{"DATA_DIR": t.TempDir()}), &out, &out); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !strings.Contains(out.String(), "schema version") {
		t.Fatalf("output %q", out.String())
	}
}

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
