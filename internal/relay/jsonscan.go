package relay

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
)

// The per-frame messages (a Twilio media frame, a model audio delta) are
// decoded by a small scanner instead of encoding/json: it walks the members
// of one object and hands back sub-slices of the input, so the hot path
// allocates nothing and the base64 payload is never copied or re-encoded.
// Rare messages (start, tool calls, errors) still go through encoding/json.

var errMalformed = errors.New("malformed JSON")

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 32

// jsonValue is one member value found by scanObject.
type jsonValue struct {
	// raw is the value as written; for a string it is the content between
	// the quotes, still escaped when escaped is true.
	raw     []byte
	str     bool
	escaped bool
}

// text returns a string value unescaped; non-strings give "".
func (v jsonValue) text() string {
	if !v.str {
		return ""
	}
	if !v.escaped {
		return string(v.raw)
	}
	return unescape(v.raw)
}

// bytes returns a string value's content, unescaping into a new slice only
// when the input held escapes.
func (v jsonValue) bytes() []byte {
	if !v.str || !v.escaped {
		return v.raw
	}
	return []byte(unescape(v.raw))
}

func unescape(raw []byte) string {
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(quoted, '"')
	quoted = append(quoted, raw...)
	quoted = append(quoted, '"')
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return ""
	}
	return s
}

// scanObject calls fn for each member of the JSON object in data. fn
// returns false to stop early. Trailing non-space bytes are an error.
func scanObject(data []byte, fn func(key []byte, v jsonValue) bool) error {
	s := scanner{d: data}
	s.ws()
	if !s.eat('{') {
		return errMalformed
	}
	stopped := false
	s.ws()
	if s.eat('}') {
		return s.end()
	}
	for {
		s.ws()
		ks, ke, kesc, ok := s.str()
		if !ok {
			return errMalformed
		}
		key := s.d[ks:ke]
		if kesc {
			key = []byte(unescape(key))
		}
		s.ws()
		if !s.eat(':') {
			return errMalformed
		}
		s.ws()
		var v jsonValue
		if s.peek() == '"' {
			vs, ve, esc, ok := s.str()
			if !ok {
				return errMalformed
			}
			v = jsonValue{raw: s.d[vs:ve], str: true, escaped: esc}
		} else {
			start := s.i
			if !s.skip(1) {
				return errMalformed
			}
			v = jsonValue{raw: s.d[start:s.i]}
		}
		if !stopped && !fn(key, v) {
			// Keep scanning so malformed input is still refused.
			stopped = true
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			return s.end()
		}
		return errMalformed
	}
}

type scanner struct {
	d []byte
	i int
}

func (s *scanner) peek() byte {
	if s.i < len(s.d) {
		return s.d[s.i]
	}
	return 0
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.d) && s.d[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) ws() {
	for s.i < len(s.d) {
		switch s.d[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) end() error {
	s.ws()
	if s.i != len(s.d) {
		return errMalformed
	}
	return nil
}

// str reads a string at the cursor and returns the bounds of its content.
// It accepts what encoding/json accepts: no raw control character, only
// the escapes JSON defines.
func (s *scanner) str() (start, end int, escaped, ok bool) {
	if !s.eat('"') {
		return 0, 0, false, false
	}
	start = s.i
	// Fast path: no escape before the closing quote (base64 never has
	// one).
	if q := bytes.IndexByte(s.d[s.i:], '"'); q >= 0 && plain(s.d[s.i:s.i+q]) {
		end = s.i + q
		s.i = end + 1
		return start, end, false, true
	}
	for s.i < len(s.d) {
		c := s.d[s.i]
		switch {
		case c == '"':
			end = s.i
			s.i++
			return start, end, escaped, true
		case c == '\\':
			escaped = true
			if !s.escape() {
				return 0, 0, false, false
			}
		case c < 0x20:
			return 0, 0, false, false
		default:
			s.i++
		}
	}
	return 0, 0, false, false
}

// plain reports whether b holds neither an escape nor a control character.
// It tests eight bytes at a time (a base64 payload is a few hundred bytes
// per frame): a word has a byte below 0x20 when (x - 0x20 in each byte)
// borrows into a byte whose top bit was clear, and a backslash when x XOR
// backslashes has a zero byte, found the same way.
func plain(b []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		y := x ^ (ones * '\\')
		if ((x-ones*0x20)&^x|(y-ones)&^y)&highs != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 || c == '\\' {
			return false
		}
	}
	return true
}

// escape passes over one escape sequence at the cursor (a backslash).
func (s *scanner) escape() bool {
	if s.i+1 >= len(s.d) {
		return false
	}
	switch s.d[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return true
	case 'u':
		if s.i+6 > len(s.d) {
			return false
		}
		for _, h := range s.d[s.i+2 : s.i+6] {
			if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
				return false
			}
		}
		s.i += 6
		return true
	}
	return false
}

// number passes over a number as JSON writes it:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	s.eat('-')
	if !s.eat('0') && s.digits() == 0 {
		return false
	}
	if s.eat('.') && s.digits() == 0 {
		return false
	}
	if s.eat('e') || s.eat('E') {
		if !s.eat('+') {
			s.eat('-')
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

// digits passes over a run of decimal digits and returns its length.
func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.d) && s.d[s.i] >= '0' && s.d[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

// skip passes over one value of any kind.
func (s *scanner) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch c := s.peek(); {
	case c == '"':
		_, _, _, ok := s.str()
		return ok
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		s.i++
		s.ws()
		if s.eat(closer) {
			return true
		}
		for {
			s.ws()
			if c == '{' {
				if _, _, _, ok := s.str(); !ok {
					return false
				}
				s.ws()
				if !s.eat(':') {
					return false
				}
				s.ws()
			}
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			return s.eat(closer)
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(s.d)-s.i >= len(lit) && string(s.d[s.i:s.i+len(lit)]) == lit {
				s.i += len(lit)
				return true
			}
		}
		return false
	}
}

// parseInt reads a non-negative integer written as a JSON number or as a
// string of digits (Twilio sends numbers as strings; fakes may not).
// Fractions are truncated. ok is false for anything else or on overflow.
func parseInt(v jsonValue) (n int64, ok bool) {
	b := v.raw
	if len(b) == 0 {
		return 0, false
	}
	for i, c := range b {
		if c == '.' && i > 0 && !v.str {
			break
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<62)/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
