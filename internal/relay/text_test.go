package relay

import (
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/transcript"
)

func TestCleanText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain text, ünïcode and emoji 👋", "plain text, ünïcode and emoji 👋"},
		{"two\nlines\tand a tab", "two\nlines\tand a tab"},
		{"nul\x00byte", "nulbyte"},
		{"bad \xff\xfe utf-8", "bad  utf-8"},
		{"bell\x07 esc\x1b[31m del\x7f c1\u0085", "bell esc[31m del c1"},
		{"\u202eliaf\u202c ok", "liaf ok"},
		{"\u2066isolate\u2069 \u200emark\u200f \u061c", "isolate mark "},
	}
	for _, tc := range cases {
		if got := cleanText(tc.in); got != tc.want {
			t.Errorf("cleanText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := clip("code\nwith\u202ebidi"+strings.Repeat("x", 100), 20); got != "codewithbidixxxx" {
		t.Errorf("clip = %q", got)
	}
}

// Finding 8 (edge) and 12: a model transcript with NUL, invalid UTF-8
// and bidi controls is stored and published without them.
func TestTranscriptTextCleanedAtTheEdge(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	// After the handshake (the greeting was asked for), not during it.
	waitFor(t, "the greeting", s.WaitFor, func() bool { return len(s.Responses()) >= 1 })
	s.CallerTranscript("item_said_1", "call me\x00 back \u202eliaf\u202c")
	waitTrue(t, "the caller's line", func() bool {
		for _, l := range h.linesOf(c.CallSid()) {
			if l.Role == transcript.RoleCaller {
				return true
			}
		}
		return false
	})
	for _, l := range h.linesOf(c.CallSid()) {
		if l.Role == transcript.RoleCaller && l.Text != "call me back liaf" {
			t.Fatalf("stored caller line = %q", l.Text)
		}
	}
	for _, ev := range h.events.ofType(events.TranscriptLine) {
		if txt, _ := ev.Data["text"].(string); strings.ContainsAny(txt, "\x00\u202e\u202c") {
			t.Fatalf("published line kept a control: %q", txt)
		}
	}
}
