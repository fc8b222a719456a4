package apptest

import (
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/config"
)

// AssertNoLeaks fails the test when text (captured logs, response bodies,
// live events) holds any configured secret or any of the given phone
// numbers unmasked. Numbers are also searched without their plus sign and
// URL-encoded, the forms they take inside paths and form bodies.
func AssertNoLeaks(t testing.TB, what, text string, cfg *config.Config, numbers ...string) {
	t.Helper()
	for _, s := range cfg.Secrets() {
		if len(s) >= 8 && strings.Contains(text, s) {
			t.Errorf("%s contains a configured secret (%d chars starting %q)", what, len(s), s[:3])
		}
	}
	for _, n := range numbers {
		bare := strings.TrimPrefix(n, "+")
		for _, form := range []string{n, bare, "%2B" + bare} {
			if i := strings.Index(text, form); i >= 0 {
				lo, hi := max(0, i-60), min(len(text), i+len(form)+60)
				t.Errorf("%s contains the unmasked number %s: ...%s...", what, maskForReport(n), strings.ReplaceAll(text[lo:hi], form, "<NUMBER>"))
				break
			}
		}
	}
}

func maskForReport(n string) string {
	if len(n) < 5 {
		return "***"
	}
	return n[:3] + "..." + n[len(n)-2:]
}
