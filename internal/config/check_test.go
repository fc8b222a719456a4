package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// linesFor returns the checklist lines about one variable.
func linesFor(checks []Check, name string) []Check {
	var out []Check
	for _, c := range checks {
		if checkVar(c.Name) == name {
			out = append(out, c)
		}
	}
	return out
}

// TestLoadForCheckListsWhatLoadRefuses: every production refusal is a FAIL
// line naming its variable, in place of that variable's checklist lines,
// and the rest of the checklist is still there.
func TestLoadForCheckListsWhatLoadRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change map[string]string
		vars   []string
	}{
		{"missing auth token", map[string]string{"TWILIO_AUTH_TOKEN": ""}, []string{"TWILIO_AUTH_TOKEN"}},
		{"short bearer", map[string]string{"INTERNAL_API_BEARER": "short"}, []string{"INTERNAL_API_BEARER"}},
		{"http public url", map[string]string{"PUBLIC_URL": "http://voice.example.test"}, []string{"PUBLIC_URL"}},
		{"wildcard origins", map[string]string{"ALLOWED_ORIGINS": "*"}, []string{"ALLOWED_ORIGINS"}},
		{"validation off", map[string]string{"TWILIO_VALIDATE": "false"}, []string{"TWILIO_VALIDATE"}},
		{"placeholder secrets", map[string]string{
			"OPENAI_API_KEY":   "replace-with-your-openai-key",
			"PRIVACY_HASH_KEY": "replace-with-a-random-key-of-at-least-32-chars",
		}, []string{"OPENAI_API_KEY", "PRIVACY_HASH_KEY"}},
		{"unparsable duration", map[string]string{"SHUTDOWN_DRAIN_TIMEOUT": "forever"}, []string{"SHUTDOWN_DRAIN_TIMEOUT"}},
		{"unreadable secret file", map[string]string{"TWILIO_AUTH_TOKEN": "", "TWILIO_AUTH_TOKEN_FILE": "/nonexistent/token"}, []string{"TWILIO_AUTH_TOKEN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := prodEnv()
			for k, v := range tt.change {
				e[k] = v
			}
			checks := LoadForCheck(env(e))
			if !Failed(checks) {
				t.Fatalf("no FAIL line: %v", checks)
			}
			for _, name := range tt.vars {
				lines := linesFor(checks, name)
				if len(lines) == 0 {
					t.Fatalf("no line for %s: %v", name, checks)
				}
				for _, l := range lines {
					if l.Status != Fail {
						t.Errorf("%s has a %s line beside its failure: %v", name, l.Status, l)
					}
				}
			}
			if len(linesFor(checks, "LOGS_SHOW_NUMBERS")) != 1 {
				t.Errorf("the rest of the checklist is missing: %v", checks)
			}
			for _, c := range checks {
				for _, v := range tt.change {
					if len(v) > 8 && strings.Contains(c.String(), v) {
						t.Errorf("line repeats a value: %v", c)
					}
				}
			}
		})
	}
}

func TestLoadForCheckGoodProductionHasNoFailure(t *testing.T) {
	checks := LoadForCheck(env(prodEnv()))
	if Failed(checks) {
		t.Fatalf("FAIL in a good production checklist: %v", checks)
	}
	c, err := Load(env(prodEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(checks), len(c.Checklist()); got != want {
		t.Fatalf("LoadForCheck has %d lines, Checklist %d", got, want)
	}
	for _, l := range checks {
		for _, s := range c.Secrets() {
			if strings.Contains(l.String(), s) {
				t.Fatalf("line prints a secret: %v", l)
			}
		}
	}
}

func TestDevelopmentChecklistWarnsAboutPlaceholdersAndMadeUpKeys(t *testing.T) {
	c, err := Load(env(map[string]string{"OPENAI_API_KEY": "replace-with-your-openai-key"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"OPENAI_API_KEY", "PRIVACY_HASH_KEY", "INTERNAL_API_BEARER"} {
		lines := linesFor(c.Checklist(), name)
		if len(lines) == 0 || lines[0].Status != Warn {
			t.Errorf("%s lines = %v, want a warning first", name, lines)
		}
	}
}

func TestDatabaseURLFromFile(t *testing.T) {
	const pw = "db-file-password-secret"
	dbURL := "postgres://voiceagent:" + pw + "@db.internal.test:5432/voiceagent"
	p := filepath.Join(t.TempDir(), "database_url")
	if err := os.WriteFile(p, []byte(dbURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(map[string]string{"DATABASE_URL_FILE": p}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.DatabaseURL, dbURL; got != want {
		t.Fatalf("DatabaseURL = %q, want %q", got, want)
	}
	if strings.Contains(c.String(), pw) {
		t.Fatalf("String() prints the database password: %s", c)
	}
	if !strings.Contains(strings.Join(c.Secrets(), " "), pw) {
		t.Fatal("Secrets() leaves out the database password")
	}
	_, err = Load(env(map[string]string{"DATABASE_URL_FILE": p, "DATABASE_URL": dbURL}))
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || strings.Contains(err.Error(), pw) {
		t.Fatalf("both set: err = %v", err)
	}
	e := prodEnv()
	e["DATABASE_URL"] = "postgres://voiceagent:change-me@db.example.internal:5432/voiceagent"
	if _, err := Load(env(e)); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("placeholder database password in production: err = %v", err)
	}
}

// Failed reports whether any check failed.
func Failed(checks []Check) bool {
	for _, c := range checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}
