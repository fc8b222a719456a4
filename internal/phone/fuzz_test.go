package phone

import (
	"strings"
	"testing"
)

// FuzzMatcherReplace: Replace changes text only inside the spans Find
// reports, each span is a whole run spelling the number, and replacing
// leaves no match behind.
func FuzzMatcherReplace(f *testing.F) {
	for _, s := range []string{"+1 (415) 555-0177", "415-555-01770", "a%2B14155550177b", "4 1 5 5 5 5 0 1 7 7", "((((", "+(1) 415 555 0177", "0014155550177 4155550177"} {
		f.Add(s)
	}
	m, err := NewMatcher("+14155550177")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spans := m.Find(s)
		last := 0
		for _, sp := range spans {
			if sp[0] < last || sp[1] <= sp[0] || sp[1] > len(s) {
				t.Fatalf("bad span %v in %q", sp, s)
			}
			last = sp[1]
		}
		out, hit := m.Replace(s, "#")
		if hit != (len(spans) > 0) {
			t.Fatalf("Replace hit = %v with %d spans", hit, len(spans))
		}
		if hit && m.Contains(out) {
			t.Fatalf("Replace(%q) = %q still holds the number", s, out)
		}
		if !hit && out != s {
			t.Fatalf("Replace changed %q without a match", s)
		}
		if strings.Count(out, "#") < len(spans) {
			t.Fatalf("Replace(%q) = %q lost a replacement", s, out)
		}
	})
}
