package voice_test

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/voiceagent/voiceagent/internal/voice"
)

// TestCleanCallerNameStripsControls: C0 and C1 controls, the line and
// paragraph separators and every bidi control are removed; ordinary
// letters of any script stay.
func TestCleanCallerNameStripsControls(t *testing.T) {
	for in, want := range map[string]string{
		"Alice\x00\x07\x1b[31m Example":    "Alice[31m Example",
		"Bob\u0085\u009b\u0080 Smith":      "Bob Smith",
		"Line\u2028Para\u2029End":          "LineParaEnd",
		"\u202Egnp.exe\u202C invoice":      "gnp.exe invoice",
		"a\u202Ab\u202Bc\u202Dd":           "abcd",
		"\u2066iso\u2067late\u2068d\u2069": "isolated",
		"mark\u200E\u200F\u061C":           "mark",
		"  Zoë Ålander  ":                  "Zoë Ålander",
		"محمد":                             "محمد",
		"\x7fDEL":                          "DEL",
		"bad\xffutf8":                      "badutf8",
		strings.Repeat("x", 70) + "\u202E": strings.Repeat("x", 64),
	} {
		if got := voice.CleanCallerName(in); got != want {
			t.Errorf("CleanCallerName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
