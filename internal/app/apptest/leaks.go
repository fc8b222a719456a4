package apptest

import (
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/phone"
)

// AssertNoLeaks fails the test when text (captured logs, response bodies,
// live events) holds any configured secret or any of the given phone
// numbers unmasked. Numbers are searched in every form people write them
// (phone.Matcher: with or without the plus or country code, URL-encoded,
// with spaces, dashes, dots or parentheses), and literally.
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
		if m, err := phone.NewMatcher(n); err == nil {
			if spans := m.Find(text); len(spans) > 0 {
				sp := spans[0]
				lo, hi := max(0, sp[0]-60), min(len(text), sp[1]+60)
				t.Errorf("%s contains the number %s as written: ...%s<NUMBER>%s...", what, maskForReport(n), text[lo:sp[0]], text[sp[1]:hi])
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
