package config

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// envExample reads ../../.env.example: every NAME=value line, commented
// ("# NAME=value") or not, with trailing "   # comment" text removed.
func envExample(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := regexp.MustCompile(`^#?\s*([A-Z][A-Z0-9_]*)=(.*)$`)
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := line.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		v, _, _ := strings.Cut(m[2], "   #")
		out[m[1]] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal(".env.example holds no variables")
	}
	return out
}

// TestProductionRefusesEnvExamplePlaceholders: each placeholder of
// .env.example, put alone into an otherwise good production
// configuration, is refused with its variable named, and no error line
// repeats the value.
func TestProductionRefusesEnvExamplePlaceholders(t *testing.T) {
	example := envExample(t)
	mustRefuse := []string{
		"INTERNAL_API_BEARER", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY",
		"TWILIO_API_SECRET", "OPENAI_API_KEY", "PRIVACY_HASH_KEY", "DATABASE_URL",
	}
	for name, v := range example {
		// Any other value shaped like a placeholder is refused too, so a
		// secret added to .env.example later is covered. PUBLIC_URL is no
		// secret: an example host fails Twilio's signature checks visibly.
		if placeholder(v) && name != "PUBLIC_URL" && !slices.Contains(mustRefuse, name) {
			mustRefuse = append(mustRefuse, name)
		}
	}
	for _, name := range mustRefuse {
		t.Run(name, func(t *testing.T) {
			v, ok := example[name]
			if !ok || v == "" {
				t.Fatalf(".env.example has no placeholder for %s", name)
			}
			e := prodEnv()
			e[name] = v
			_, err := Load(env(e))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("Load with %s from .env.example: err = %v, want one naming %s", name, err, name)
			}
			if strings.Contains(err.Error(), v) {
				t.Fatalf("error repeats the value: %v", err)
			}
		})
	}
}

func TestPlaceholderShapes(t *testing.T) {
	for v, want := range map[string]bool{
		"replace-with-your-twilio-auth-token": true,
		"Change-Me-Please-0123456789abcdef":   true,
		"changeme":                            true,
		"your-key-here":                       true,
		"sk-xxxxxxxxxxxxxxxxxxxx":             true,
		"sk-example-0123456789":               true,
		"sk-test-not-real":                    false,
		"9f86d081884c7d659a2feaa0c55ad015":    false,
		"":                                    false,
	} {
		if got := placeholder(v); got != want {
			t.Errorf("placeholder(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestTwilioSIDsAreHex(t *testing.T) {
	hex32 := "0123456789abcdefABCDEF0123456789"
	for _, tt := range []struct {
		name, value string
		ok          bool
	}{
		{"TWILIO_ACCOUNT_SID", "AC" + hex32, true},
		{"TWILIO_ACCOUNT_SID", "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", false},
		{"TWILIO_ACCOUNT_SID", "AC" + hex32[:31], false},
		{"TWILIO_ACCOUNT_SID", "SK" + hex32, false},
		{"TWILIO_API_KEY", "SK" + hex32, true},
		{"TWILIO_API_KEY", "SKxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", false},
		{"TWILIO_API_KEY", "SK" + hex32 + "0", false},
		{"TWILIO_API_KEY", "AC" + hex32, false},
	} {
		e := map[string]string{tt.name: tt.value}
		if tt.name == "TWILIO_API_KEY" {
			e["TWILIO_API_SECRET"] = "test-api-secret-not-real"
		}
		_, err := Load(env(e))
		if (err == nil) != tt.ok {
			t.Errorf("%s=%s: err = %v, want ok=%v", tt.name, tt.value, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s=%s: error %q does not name the variable", tt.name, tt.value, err)
		}
	}
}
