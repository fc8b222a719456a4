package redact

import (
	"strings"
	"testing"
)

// TestTextMasksTypographicForms: numbers as word processors, web pages and
// language models write them (en and em dashes, the minus sign, no-break
// and thin spaces, a non-breaking hyphen) are masked like the
// ASCII forms; the last two digits stay, the middle never does.
func TestTextMasksTypographicForms(t *testing.T) {
	for _, s := range []string{
		"call 415–555–0177 now", "call 415—555—0177 now", "call 415−555−0177 now",
		"call 415\u00a0555\u00a00177 now", "call 415\u2009555\u20090177 now", "call +1\u202f415\u202f555\u202f0177 now",
		"call (415)–555–0177 now", "call 415‑555‑0177 now",
	} {
		got := Text(s)
		if strings.Contains(got, "555") || !strings.HasSuffix(got, "77 now") {
			t.Errorf("Text(%q) = %q, want the number masked", s, got)
		}
	}
	// Words joined by a dash are not numbers: nothing to mask.
	if got := Text("rooms 12 – 34 and 56"); got != "rooms 12 – 34 and 56" {
		t.Errorf("Text changed %q", got)
	}
}
