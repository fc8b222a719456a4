package relay

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// refMember is one member of a top-level object as encoding/json reads it.
type refMember struct {
	key string
	val json.RawMessage
}

// refObject reads data with encoding/json: its top-level members in order,
// ok false when data is not one valid JSON object.
func refObject(data []byte) (members []refMember, ok bool) {
	if !json.Valid(data) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		members = append(members, refMember{key: tok.(string), val: v})
	}
	return members, true
}

// nesting is the deepest bracket nesting of valid JSON data.
func nesting(data []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// FuzzScanObject holds the hot-path scanner to encoding/json for every
// input: it accepts exactly the valid JSON objects (nesting up to
// maxDepth, its one documented limit) and finds the same members, keys
// and values, in the same order. Strings are compared for valid UTF-8
// input only: encoding/json replaces invalid bytes with U+FFFD, the
// scanner keeps what was sent.
func FuzzScanObject(f *testing.F) {
	for _, seed := range []string{
		`{"event":"media","media":{"payload":"/w==","timestamp":"40"}}`,
		`{"a":1,"b":-2.5e+3,"c":true,"d":false,"e":null,"f":[1,{"g":[]}],"h":{}}`,
		`{"k\u00e9y":"caf\u00e9 \"q\" \\ \/ \b\f\n\r\t"}`,
		`  {"a" : "b" , "a":"c"}  `,
		`{}`, `[]`, `"s"`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":"\x"}`, `{"a":"` + "\x01" + `"}`,
		`{"a":1,}`, `{"a"}`, `{"a":tru}`, `{"a":1}x`, `{"a":"\ud800"}`, `{"a":1e5,"b":0.5,"c":-0}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		type member struct {
			key string
			v   jsonValue
		}
		var got []member
		err := scanObject(data, func(key []byte, v jsonValue) bool {
			got = append(got, member{string(key), v})
			return true
		})
		want, ok := refObject(data)
		if ok && nesting(data) > maxDepth {
			if err == nil {
				t.Fatalf("scanner accepted nesting deeper than %d: %q", maxDepth, data)
			}
			return
		}
		if ok != (err == nil) {
			t.Fatalf("scanObject(%q) = %v, encoding/json says valid object = %v", data, err, ok)
		}
		if !ok {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("scanObject(%q): %d members, encoding/json %d", data, len(got), len(want))
		}
		for i, w := range want {
			g := got[i]
			if utf8.Valid(data) && g.key != w.key {
				t.Fatalf("member %d key %q, encoding/json %q (input %q)", i, g.key, w.key, data)
			}
			var ws string
			isStr := w.val[0] == '"' && json.Unmarshal(w.val, &ws) == nil
			if g.v.str != isStr {
				t.Fatalf("member %d string = %v, encoding/json %v (input %q)", i, g.v.str, isStr, data)
			}
			switch {
			case isStr && utf8.Valid(data):
				if g.v.text() != ws || string(g.v.bytes()) != ws {
					t.Fatalf("member %d = %q, encoding/json %q (input %q)", i, g.v.text(), ws, data)
				}
			case !isStr && !bytes.Equal(g.v.raw, w.val):
				t.Fatalf("member %d raw %q, encoding/json %q (input %q)", i, g.v.raw, w.val, data)
			}
		}
	})
}
