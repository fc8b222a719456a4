// Package phone validates and normalizes telephone numbers to E.164.
package phone

import (
	"errors"
	"strings"
)

// ErrInvalid is returned for a value that is not (and cannot be made) E.164.
var ErrInvalid = errors.New("not an E.164 phone number")

// Valid reports whether s is an E.164 number: a plus sign, a non-zero
// first digit and 8 to 15 digits in all.
func Valid(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Normalize turns an operator-supplied number into E.164. It accepts the
// usual separators (spaces, dashes, dots, parentheses), a leading "00" as
// the international prefix, and a number given without the plus sign but
// with its country code (such as 15555550123). Anything else is ErrInvalid.
func Normalize(s string) (string, error) {
	s = strings.TrimSpace(s)
	var b strings.Builder
	b.Grow(len(s) + 1)
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", ErrInvalid
		}
	}
	digits := b.String()
	if !strings.HasPrefix(s, "+") && strings.HasPrefix(digits, "00") {
		digits = digits[2:]
	}
	out := "+" + digits
	if !Valid(out) {
		return "", ErrInvalid
	}
	return out, nil
}

// NormalizeList normalizes a comma-separated list, skipping empty items.
func NormalizeList(s string) ([]string, error) {
	var out []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		n, err := Normalize(item)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}
