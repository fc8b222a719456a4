package relay

import "testing"

// TestScanObjectRefusesInvalidJSON: inputs the fuzz target against
// encoding/json found the scanner accepting (numbers outside JSON's
// grammar, undefined escapes, raw control characters in strings).
func TestScanObjectRefusesInvalidJSON(t *testing.T) {
	for _, in := range []string{
		`{"a":01}`, `{"a":-01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":1e+}`, `{"a":1-2}`, `{"a":+1}`, `{"a":1.5.5}`,
		`{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`, `{"a":"\`, "{\"a\":\"\x01\"}", "{\"a\":\"\t\"}", "{\"k\x1f\":1}",
		`{"a":[1,"\q"]}`, `{"a":{"b":0e}}`,
	} {
		if err := scanObject([]byte(in), func([]byte, jsonValue) bool { return true }); err == nil {
			t.Errorf("scanObject(%q) accepted invalid JSON", in)
		}
	}
	for _, in := range []string{
		`{"a":0}`, `{"a":-0}`, `{"a":0.5}`, `{"a":-1.25e-3}`, `{"a":1E+9}`, `{"a":10}`,
		`{"a":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"}`, `{"a":[0,-0.0,{"b":"\u0000"}]}`,
	} {
		if err := scanObject([]byte(in), func([]byte, jsonValue) bool { return true }); err != nil {
			t.Errorf("scanObject(%q) = %v, want it accepted", in, err)
		}
	}
}

// TestPlainFindsEveryByte: the word-at-a-time check agrees with a byte
// loop for every byte value at every position of a word and its tail.
func TestPlainFindsEveryByte(t *testing.T) {
	for n := 1; n <= 17; n++ {
		for pos := range n {
			for c := range 256 {
				b := make([]byte, n)
				for i := range b {
					b[i] = 'A'
				}
				b[pos] = byte(c)
				want := c >= 0x20 && c != '\\'
				if got := plain(b); got != want {
					t.Fatalf("plain(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}
