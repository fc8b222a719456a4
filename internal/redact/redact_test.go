package redact

import (
	"strings"
	"testing"
)

func TestPhone(t *testing.T) {
	tests := map[string]string{"+14155550355": "+1********55", "": "", "123": "***", "4155550355": "4*******55"}
	for in, want := range tests {
		if got := Phone(in); got != want {
			t.Errorf("Phone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIP(t *testing.T) {
	tests := map[string]string{"203.0.113.7": "203.0.x.x", "203.0.113.7:5555": "203.0.x.x", "2001:db8:1:2::1": "2001:db8::/32", "::ffff:10.1.2.3": "10.1.x.x", "nonsense": "invalid", "": ""}
	for in, want := range tests {
		if got := IP(in); got != want {
			t.Errorf("IP(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTextMasksNumbersInside(t *testing.T) {
	in := "/api/data/+14155550355 and /api/callers/blocked/%2B447700900123 id=42"
	got := Text(in)
	if strings.Contains(got, "4155550355") || strings.Contains(got, "7700900123") {
		t.Fatalf("Text(%q) = %q leaks a number", in, got)
	}
	if !strings.Contains(got, "id=42") || !strings.HasPrefix(got, "/api/data/+1") {
		t.Fatalf("Text changed too much: %q", got)
	}
	if s := "plain path"; Text(s) != s {
		t.Fatalf("Text(%q) changed", s)
	}
}

// TestTextMasksWrittenForms: numbers as people and speech-to-text write
// them are masked, separators kept; dates and short numbers stay.
func TestTextMasksWrittenForms(t *testing.T) {
	tests := map[string]string{
		"+1 (415) 555-0177":                     "+1 (***) ***-**77",
		"call 415-555-0177 now":                 "call 4**-***-**77 now",
		"415.555.0177":                          "4**.***.**77",
		"4 1 5 5 5 5 0 1 7 7":                   "4 * * * * * * * 7 7",
		"(415) 555-0177":                        "(4**) ***-**77",
		"/x?From=%2B14155550177&y=1":            "/x?From=%2B1********77&y=1",
		"+14155550177":                          "+1********77",
		"on 2026-12-05 at 12:30, id 1234":       "on 2026-12-05 at 12:30, id 1234",
		"at 2026-12-05 01:02:03 and 05.12.2026": "at 2026-12-05 01:02:03 and 05.12.2026",
		"415 555 0177 415 555 0188":             "4** *** **** *** *** **88",
	}
	for in, want := range tests {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkText: the redaction every log line now passes through, on a
// value without a number (the common case) and on one with two.
func BenchmarkText(b *testing.B) {
	for name, s := range map[string]string{
		"clean":   "POST /voice/incoming request_id=0a1b2c3d status=200",
		"numbers": "call +1 (415) 555-0177 or 415.555.0178 from /api/data/%2B14155550177",
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Text(s)
			}
		})
	}
}
