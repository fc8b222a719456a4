package phone

import (
	"strings"
	"unicode/utf8"
)

// Run is one number-like run inside free text: digit groups joined by the
// separators people and speech-to-text put inside a phone number, with an
// optional leading "+" (also URL-encoded as %2B) or "(".
//
// A run is maximal: the characters around it are neither digits nor a
// separator followed by more digits, so no digit before or after it can
// continue the number it spells. Two numbers written next to each other
// with only one separator between them ("415 555 0177 415 555 0188") read
// as one run; that errs towards matching nothing rather than part of
// someone else's number.
type Run struct {
	Start, End int    // byte offsets in the text: s[Start:End]
	Digits     string // the digits alone
	Plus       bool   // written with a leading "+" or "%2B": international form
}

// Separators are the characters allowed between the digit groups of a
// run: the ASCII ones, and those that word processors, web pages and
// language models put there instead (no-break, figure, thin and narrow
// no-break spaces; hyphen, non-breaking hyphen, figure dash, en and em
// dash, minus sign). The store's SQL pre-filter strips exactly these
// before it looks for a number's digits, so the two agree on what can
// match.
const Separators = " -./()\u00a0\u2007\u2009\u202f\u2010\u2011\u2012\u2013\u2014\u2212"

// maxJoiner is the longest separator sequence between two digit groups
// (") (", ") -"): longer gaps end the run.
const maxJoiner = 3

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSeparator(r rune) bool { return strings.ContainsRune(Separators, r) }

// isSpace: the separators that are spaces (at most one per joiner).
func isSpace(r rune) bool {
	return r == ' ' || r == '\u00a0' || r == '\u2007' || r == '\u2009' || r == '\u202f'
}

// joinerAt returns the length in bytes of the separator sequence at s[i:]
// when it joins two digit groups (at most maxJoiner separators, at most
// one of them a space, then a digit), or 0.
func joinerAt(s string, i int) int {
	spaces, off := 0, 0
	for n := 0; i+off < len(s); n++ {
		if isDigit(s[i+off]) {
			return off
		}
		r, size := utf8.DecodeRuneInString(s[i+off:])
		if n == maxJoiner || !isSeparator(r) {
			return 0
		}
		if isSpace(r) {
			spaces++
			if spaces > 1 {
				return 0
			}
		}
		off += size
	}
	return 0
}

// Runs returns the number-like runs of s in order, with at least minDigits
// digits each.
func Runs(s string, minDigits int) []Run {
	var out []Run
	i := 0
	for i < len(s) {
		if !isDigit(s[i]) {
			i++
			continue
		}
		// s[i] starts a digit group not preceded by a digit: find the
		// run's prefix backwards.
		start, plus := i, false
		switch {
		case start >= 1 && s[start-1] == '+':
			start, plus = start-1, true
		case start >= 3 && s[start-3] == '%' && s[start-2] == '2' && (s[start-1] == 'B' || s[start-1] == 'b'):
			start, plus = start-3, true
		case start >= 1 && s[start-1] == '(':
			start--
			if start >= 1 && s[start-1] == '+' { // "+(1) ..."
				start, plus = start-1, true
			}
		}
		var digits []byte
		end := i
		for {
			for end < len(s) && isDigit(s[end]) {
				digits = append(digits, s[end])
				end++
			}
			n := joinerAt(s, end)
			if n == 0 {
				break
			}
			end += n
		}
		if len(digits) >= minDigits {
			out = append(out, Run{Start: start, End: end, Digits: string(digits), Plus: plus})
		}
		i = end
	}
	return out
}
