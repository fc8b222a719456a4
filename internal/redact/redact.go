// Package redact masks personal data and secrets before they reach a log
// line, an audit row or a live viewer. It is the one place that decides how
// a phone number or an IP address is shown.
package redact

import (
	"net/netip"
	"regexp"
	"strings"
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

// Secret shows only that a secret is set, never any of its characters.
func Secret(s string) string {
	if s == "" {
		return "(unset)"
	}
	return "****"
}

// phoneInText finds things that look like phone numbers inside free text:
// an optional plus and 8 to 15 digits, possibly URL-encoded (%2B).
var phoneInText = regexp.MustCompile(`(?:\+|%2B)?\d{8,15}`)

// Text masks every phone-number-like run inside s. It is meant for values
// such as URLs and free-form messages that may embed a number.
func Text(s string) string {
	if !containsLongDigitRun(s) {
		return s
	}
	return phoneInText.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "%2B") {
			return "%2B" + Phone("+" + m[3:])[1:]
		}
		return Phone(m)
	})
}

// containsLongDigitRun is a cheap pre-check so the regexp only runs on
// values that can hold a number.
func containsLongDigitRun(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			if run >= 8 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}
