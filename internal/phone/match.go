package phone

import (
	"sort"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Matcher finds one phone number as a whole number in free text, in the
// forms people (and speech-to-text) write it: international ("+1 (415)
// 555-0177", "%2B14155550177", "0014155550177") and national as the
// numbering plan writes it ("(415) 555-0177", "415.555.0177", "1 415 555
// 0177" with the North American trunk prefix, "030 1234567" for a German
// number). Digits without "+" or "00" are only ever read nationally. The country rules (country code,
// national significant number, trunk prefix) come from libphonenumber's
// metadata (github.com/nyaruka/phonenumbers), not from tables of our own.
//
// A match is always a whole run (see Runs): "+1415555019" never matches
// inside "+14155550199", nor "4155550177" inside "41555501770".
type Matcher struct {
	e164     string
	intl     string          // country code and national significant number
	national map[string]bool // digit strings that spell the number without "+"
}

// NewMatcher returns the matcher for an E.164 number, or ErrInvalid.
func NewMatcher(e164 string) (*Matcher, error) {
	if !Valid(e164) {
		return nil, ErrInvalid
	}
	m := &Matcher{e164: e164, intl: e164[1:], national: map[string]bool{}}
	// Digits without "+" are read as a national number, never as country
	// code and number: "(201) 555-0100" is a New Jersey number, not the
	// Egyptian +20 1555 0100 (about one valid US number in nine spells a
	// valid foreign one that way). "00" is the international prefix.
	m.national["00"+m.intl] = true
	if pn, err := phonenumbers.Parse(e164, ""); err == nil {
		// The national format ("030 1234567", "(415) 555-0177"), the
		// trunk prefix and the national significant number ("1 415 555
		// 0177": in North America the trunk prefix is the country code),
		// and the national significant number alone, which the plans
		// without a trunk prefix write nationally.
		if nat := phonenumbers.NormalizeDigitsOnly(phonenumbers.Format(pn, phonenumbers.NATIONAL)); len(nat) >= 4 {
			m.national[nat] = true
		}
		region := phonenumbers.GetRegionCodeForNumber(pn)
		if region == "" || region == "ZZ" { // reserved or fictional ranges (+1 555 ...)
			region = phonenumbers.GetRegionCodeForCountryCode(int(pn.GetCountryCode()))
		}
		nsn := phonenumbers.GetNationalSignificantNumber(pn)
		if ndd := phonenumbers.GetNddPrefixForRegion(region, true); region != "" && len(nsn) >= 4 {
			m.national[ndd+nsn] = true
		}
	}
	return m, nil
}

// Number is the E.164 number matched.
func (m *Matcher) Number() string { return m.e164 }

// Digits lists the digit strings any match contains (for a pre-filter that
// strips the separators and looks for them): shortest first, none a
// duplicate.
func (m *Matcher) Digits() []string {
	out := []string{m.intl}
	for d := range m.national {
		if d != m.intl {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) < len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// matches reports whether run spells the number.
func (m *Matcher) matches(r Run) bool {
	if r.Plus {
		return r.Digits == m.intl
	}
	return m.national[r.Digits]
}

// Equal reports whether a structured value (a number column) is the
// number: equality only, never a match inside.
func (m *Matcher) Equal(v string) bool { return v == m.e164 }

// Find returns the spans [start, end) of s that spell the number.
func (m *Matcher) Find(s string) [][2]int {
	var out [][2]int
	for _, r := range Runs(s, 4) {
		if m.matches(r) {
			out = append(out, [2]int{r.Start, r.End})
		}
	}
	return out
}

// Contains reports whether s holds the number anywhere.
func (m *Matcher) Contains(s string) bool { return len(m.Find(s)) > 0 }

// Replace returns s with every occurrence of the number replaced by repl,
// and whether there was one.
func (m *Matcher) Replace(s, repl string) (string, bool) {
	spans := m.Find(s)
	if len(spans) == 0 {
		return s, false
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp[0]])
		b.WriteString(repl)
		last = sp[1]
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// Spellings are the ways the number is commonly written, for tests and
// scans: E.164, URL-encoded, the international and national formats of
// the plan, and those with dots, dashes and spaces instead.
func (m *Matcher) Spellings() []string {
	set := map[string]bool{m.e164: true, "%2B" + m.intl: true}
	if pn, err := phonenumbers.Parse(m.e164, ""); err == nil {
		for _, f := range []phonenumbers.PhoneNumberFormat{phonenumbers.INTERNATIONAL, phonenumbers.NATIONAL, phonenumbers.RFC3966} {
			s := phonenumbers.Format(pn, f)
			set[s] = true
			for _, sep := range []string{".", "-", " "} {
				set[strings.NewReplacer("(", "", ") ", sep, ")", sep, " ", sep, "-", sep).Replace(s)] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Possible reports whether an E.164 number has a length its country's
// numbering plan allows (libphonenumber's possible-number check): a
// prefix of a ten-digit North American number is not a number.
func Possible(e164 string) bool {
	if !Valid(e164) {
		return false
	}
	pn, err := phonenumbers.Parse(e164, "")
	return err == nil && phonenumbers.IsPossibleNumber(pn)
}
