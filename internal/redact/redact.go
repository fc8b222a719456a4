// Package redact masks personal data and secrets before they reach a log
// line, an audit row or a live viewer. It is the one place that decides how
// a phone number or an IP address is shown.
package redact

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/voiceagent/voiceagent/internal/phone"
)

// Phone masks a phone number, keeping the country-code hint and the last
// two digits: "+14155550355" -> "+1*******55". Values too short to mask
// safely are replaced entirely.
func Phone(s string) string {
	if s == "" {
		return ""
	}
	if len(s) < 6 {
		return "***"
	}
	keepHead := 2
	if s[0] != '+' {
		keepHead = 1
	}
	return s[:keepHead] + strings.Repeat("*", len(s)-keepHead-2) + s[len(s)-2:]
}

// IP masks an address: IPv4 keeps the first two octets ("203.0.x.x"), IPv6
// keeps the first 32 bits. Anything unparsable becomes "invalid".
func IP(s string) string {
	if s == "" {
		return ""
	}
	host := s
	if ap, err := netip.ParseAddrPort(s); err == nil {
		host = ap.Addr().String()
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return "invalid"
	}
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return itoa(b[0]) + "." + itoa(b[1]) + ".x.x"
	}
	p, _ := a.Prefix(32)
	return p.Addr().String() + "/32"
}

func itoa(b byte) string {
	const digits = "0123456789"
	switch {
	case b >= 100:
		return string([]byte{digits[b/100], digits[b/10%10], digits[b%10]})
	case b >= 10:
		return string([]byte{digits[b/10], digits[b%10]})
	default:
		return string(digits[b])
	}
}

// minDigits is the fewest digits a run needs to be masked as a phone
// number: E.164 numbers have 8 to 15; a longer run is masked too (two
// numbers written one after the other read as one run).
const minDigits = 8

// Text masks every phone-number-like run inside s, as people and
// speech-to-text write numbers: digit groups joined by spaces, dashes,
// dots, slashes or parentheses, with or without a leading "+" (also
// URL-encoded, %2B), 8 digits or more in all (phone.Runs). Each run keeps
// its separators, its first digit and its last two digits; the other
// digits become "*": "+1 (415) 555-0177" -> "+1 (***) ***-**77". Dates
// written as 2026-12-05 or 05/12/2026 are left alone. It is meant for
// values such as URLs, error texts and free-form messages.
func Text(s string) string {
	if !hasDigits(s, minDigits) {
		return s
	}
	runs := phone.Runs(s, minDigits)
	if len(runs) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, r := range runs {
		if isDate(s[r.Start:r.End]) {
			continue
		}
		b.WriteString(s[last:r.Start])
		maskRun(&b, s[r.Start:r.End], len(r.Digits))
		last = r.End
	}
	b.WriteString(s[last:])
	return b.String()
}

// maskRun writes run with every digit but the first and the last two
// replaced by "*"; a %2B prefix is kept as it is.
func maskRun(b *strings.Builder, run string, digits int) {
	if len(run) > 3 && run[0] == '%' && (run[1:3] == "2B" || run[1:3] == "2b") {
		b.WriteString(run[:3])
		run = run[3:]
	}
	seen := 0
	for i := 0; i < len(run); i++ {
		c := run[i]
		switch {
		case c < '0' || c > '9':
			b.WriteByte(c)
			continue
		case seen == 0 || seen >= digits-2:
			b.WriteByte(c)
		default:
			b.WriteByte('*')
		}
		seen++
	}
}

// dateRun matches runs shaped like a calendar date (2026-12-05,
// 2026/12/05, 05.12.2026, 12/05/2026), possibly followed by the hour of a
// time ("2026-12-05 01:02:03" reads as the run "2026-12-05 01").
var dateRun = regexp.MustCompile(`^(?:\d{4}[-/]\d{2}[-/]\d{2}|\d{2}[-/.]\d{2}[-/.]\d{4})(?: \d{1,2})?$`)

// isDate reports runs that are dates, not phone numbers.
func isDate(run string) bool { return dateRun.MatchString(run) }

// hasDigits is a cheap pre-check so only values with at least n digits
// are scanned.
func hasDigits(s string, n int) bool {
	count := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			count++
			if count >= n {
				return true
			}
		}
	}
	return false
}
