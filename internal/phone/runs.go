package phone

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
// run. The store's SQL pre-filter strips exactly these before it looks for
// a number's digits, so the two agree on what can match.
const Separators = " -./()"

// maxJoiner is the longest separator sequence between two digit groups
// (") (", " - "): longer gaps end the run.
const maxJoiner = 3

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSeparator(c byte) bool {
	for i := 0; i < len(Separators); i++ {
		if Separators[i] == c {
			return true
		}
	}
	return false
}

// joinerAt returns the length of the separator sequence at s[i:] when it
// joins two digit groups (at most maxJoiner separators, at most one space,
// then a digit), or 0.
func joinerAt(s string, i int) int {
	spaces := 0
	for n := 0; n < maxJoiner && i+n < len(s); n++ {
		c := s[i+n]
		if isDigit(c) {
			return n
		}
		if !isSeparator(c) {
			return 0
		}
		if c == ' ' {
			spaces++
			if spaces > 1 {
				return 0
			}
		}
	}
	if i+maxJoiner < len(s) && isDigit(s[i+maxJoiner]) {
		return maxJoiner
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
