package phone

import (
	"strings"
	"testing"
)

// TestMatcherWholeNumber: a number matches only as a whole number, in
// the forms people write it; prefixes, extensions and numbers one digit
// apart never match, in any form.
func TestMatcherWholeNumber(t *testing.T) {
	m, err := NewMatcher("+14155550177")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"+14155550177", "call +1 (415) 555-0177 now", "415-555-0177", "415.555.0177", "415 555 0177",
		"(415) 555-0177.", "4 1 5 5 5 5 0 1 7 7", "From=%2B14155550177&To=x", "from=%2b14155550177",
		"tel:+1-415-555-0177", "0014155550177", "14155550177", `{"from":"+14155550177"}`, "a 415 555 0177, b",
		"+1 415 555 0177 +1 415 555 0188",
	} {
		if !m.Contains(s) {
			t.Errorf("Contains(%q) = false, want true", s)
		}
	}
	for _, s := range []string{
		"+141555501771", "+14155550178", "415-555-01770", "1415-555-0177-2", "+4155550177", "41555501",
		"415 555 0177 2", "2415 555 0177", "+24155550177", "x", "",
	} {
		if m.Contains(s) {
			t.Errorf("Contains(%q) = true, want false", s)
		}
	}
	// A prefix of the number matches nothing of it.
	p, _ := NewMatcher("+1415555017")
	for _, s := range m.Spellings() {
		if p.Contains(s) {
			t.Errorf("prefix matcher found %q", s)
		}
		if !m.Contains(s) {
			t.Errorf("matcher misses its own spelling %q", s)
		}
	}
	got, ok := m.Replace("a +1 (415) 555-0177 b 415.555.0177 c +14155550178", "X")
	if !ok || got != "a X b X c +14155550178" {
		t.Fatalf("Replace = %q, %v", got, ok)
	}
}

// TestMatcherNationalForms: national forms follow the plan's trunk
// prefix (Germany writes a leading 0).
func TestMatcherNationalForms(t *testing.T) {
	m, err := NewMatcher("+493023125000")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"030 23125000", "030/23125000", "+49 30 23125000", "0049 30 23125000"} {
		if !m.Contains(s) {
			t.Errorf("Contains(%q) = false", s)
		}
	}
	for _, s := range []string{"030 231250001", "+49 30 2312500"} {
		if m.Contains(s) {
			t.Errorf("Contains(%q) = true", s)
		}
	}
	if strings.Join(m.Digits(), ",") == "" {
		t.Fatal("no digits")
	}
}

// TestMatcherBareDigitsAreNational: digits written without "+" or "00"
// are read as a national number. Erasing the Egyptian +20 15550100 must
// not rewrite "(201) 555-0100", a New Jersey number as the US writes it
// (about one valid US number in nine reads as a valid foreign number
// when its national digits are taken as country code and number). The
// international forms with "+" or "00" and the plan's own national form
// still match; for North America "1 415 ..." is the trunk-prefixed
// national form and still matches (TestMatcherWholeNumber).
func TestMatcherBareDigitsAreNational(t *testing.T) {
	m, err := NewMatcher("+2015550100")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"(201) 555-0100", "201-555-0100", "2015550100", "call 201 555 0100"} {
		if m.Contains(s) {
			t.Errorf("Contains(%q) = true: another country's number, written nationally", s)
		}
	}
	for _, s := range append([]string{"+20 1555 0100", "0020 15550100"}, m.Spellings()...) {
		if !m.Contains(s) {
			t.Errorf("Contains(%q) = false, want true", s)
		}
	}
}

// TestMatcherFictionalNANP: a number in a range the plan does not assign
// (the reserved +1 555 numbers tests use) still matches with its trunk
// prefix, read in its country code's main region.
func TestMatcherFictionalNANP(t *testing.T) {
	m, err := NewMatcher("+15555550111")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"15555550111", "1 555 555 0111", "(555) 555-0111", "+1 555 555 0111"} {
		if !m.Contains(s) {
			t.Errorf("Contains(%q) = false, want true", s)
		}
	}
}
