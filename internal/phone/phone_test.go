package phone

import "testing"

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+14155550355", "+14155550355"},
		{"15555550123", "+15555550123"},
		{"+44 7700 900123", "+447700900123"},
		{"0044 7700 900123", "+447700900123"},
		{"+1 (415) 555-0355", "+14155550355"},
		{"", ""},
		{"+0123456789", ""},
		{"abc", ""},
		{"+1234567", ""},
		{"+1234567890123456", ""},
		{"++14155550355", ""},
		{"+1415555035５", ""},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("Normalize(%q) = %q, want error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if !Valid(got) {
			t.Errorf("Valid(%q) = false", got)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+14155550355", "15555550123", "00 44 7700", "+1 (415) 555-0355", "\x00", "+٣٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := Normalize(s)
		if err == nil && !Valid(out) {
			t.Fatalf("Normalize(%q) = %q, which is not valid E.164", s, out)
		}
	})
}
