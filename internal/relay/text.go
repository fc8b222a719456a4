package relay

import (
	"strings"
	"unicode/utf8"

	"github.com/voiceagent/voiceagent/internal/events"
)

// Model and caller text is cleaned at the edge, before it is stored,
// published to live viewers or logged: NUL and other control characters
// (tab and newline kept) and invalid UTF-8 go (PostgreSQL refuses NUL in
// text, and one refused line must not cost other calls theirs), and so do
// bidirectional controls, which would reverse a dashboard line, the
// server's own labels included.

// cleanText returns s without invalid UTF-8, control characters other
// than tab and newline, and bidi controls.
func cleanText(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 && r != '\t' && r != '\n' || r == 0x7f || r >= 0x80 && r < 0xa0 || events.IsBidiControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s // the common case: no copy
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f || r >= 0x80 && r < 0xa0 || events.IsBidiControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}

// clip cuts s to at most n bytes of cleaned text on one line (a
// model-chosen code or name on its way to a log, event or row).
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' {
			return -1
		}
		return r
	}, cleanText(s))
}
