package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

// TestDecodeJSONIsStrict: field names match exactly and a key given twice
// is refused with 400 (two decoders could otherwise read one body two
// ways), at any depth; what was
// accepted before still is.
func TestDecodeJSONIsStrict(t *testing.T) {
	for _, tc := range []struct {
		body, msg string
	}{
		{`{"name":"Alice","phoneNumber":"+15555550101"}`, ""},
		{`{"name":"Alice","phoneNumber":"+15555550101","aliases":["a","a"],"note":"n"}`, ""},
		{`{"NAME":"Alice","phoneNumber":"+15555550101"}`, `unknown field "NAME"`},
		{`{"name":"Alice","phonenumber":"+15555550101"}`, `unknown field "phonenumber"`},
		{`{"name":"Alice","name":"Mallory","phoneNumber":"+15555550101"}`, `duplicate field "name"`},
		{`{"name":"Alice","na\u006de":"Mallory","phoneNumber":"+15555550101"}`, `duplicate field "name"`},
		{`{"name":"Alice","phoneNumber":"+15555550101","phoneNumber":"+15555550199"}`, `duplicate field "phoneNumber"`},
		{`{"name":"Alice","phoneNumber":"+15555550101","extra":{"a":1,"a":2}}`, `unknown field "extra"`},
	} {
		var c contactJSON
		r := httptest.NewRequest("POST", "/api/contacts", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/json")
		err := decodeJSON(r, &c)
		switch {
		case tc.msg == "" && err != nil:
			t.Errorf("%s: %v, want accepted", tc.body, err)
		case tc.msg != "" && (apperr.CodeOf(err) != apperr.Invalid || apperr.MessageOf(err) != tc.msg):
			t.Errorf("%s: %v, want invalid %q", tc.body, err, tc.msg)
		}
	}
	// Arrays of objects (PUT /api/contacts) and nested maps are checked too.
	var list []contactJSON
	r := httptest.NewRequest("PUT", "/api/contacts", strings.NewReader(`[{"name":"A","phoneNumber":"+15555550101"},{"name":"B","Name":"C","phoneNumber":"+15555550102"}]`))
	r.Header.Set("Content-Type", "application/json")
	if err := decodeJSON(r, &list); apperr.MessageOf(err) != `unknown field "Name"` {
		t.Errorf("array: %v", err)
	}
	var m map[string]any
	if err := strictJSON([]byte(`{"a":{"b":1,"b":2}}`), reflect.TypeOf(&m)); apperr.MessageOf(err) != `duplicate field "b"` {
		t.Errorf("nested map duplicate: %v", err)
	}
	if err := strictJSON([]byte(strings.Repeat("[", 40)+strings.Repeat("]", 40)), reflect.TypeOf(&m)); apperr.MessageOf(err) != "JSON nested too deeply" {
		t.Errorf("deep: %v", err)
	}
}

// memberCount counts object members in a JSON document, duplicates
// included; -1 when it is not valid JSON.
func memberCount(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, objDepth := 0, []bool{}
	expectKey := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			return -1
		}
		switch tok {
		case json.Delim('{'):
			objDepth = append(objDepth, true)
			expectKey = true
			continue
		case json.Delim('['):
			objDepth = append(objDepth, false)
		case json.Delim('}'), json.Delim(']'):
			objDepth = objDepth[:len(objDepth)-1]
		default:
			if expectKey {
				n++
				expectKey = false
				continue
			}
		}
		expectKey = len(objDepth) > 0 && objDepth[len(objDepth)-1] && dec.More()
	}
}

// decodedMembers counts the members of every object in a decoded value.
func decodedMembers(v any) int {
	switch x := v.(type) {
	case map[string]any:
		n := len(x)
		for _, e := range x {
			n += decodedMembers(e)
		}
		return n
	case []any:
		n := 0
		for _, e := range x {
			n += decodedMembers(e)
		}
		return n
	}
	return 0
}

// FuzzStrictJSON: strictJSON never panics and refuses only with invalid;
// a document it accepts for map[string]any decodes with encoding/json to
// as many object members as it holds (no duplicate was let through to be
// silently overwritten), and one it accepts for contactJSON uses only the
// exact field names.
func FuzzStrictJSON(f *testing.F) {
	f.Add([]byte(`{"name":"Alice","phoneNumber":"+15555550101","aliases":["Ali"],"note":"x"}`))
	f.Add([]byte(`{"name":"a","name":"b"}`))
	f.Add([]byte(`{"Name":"a"}`))
	f.Add([]byte(`[{"a":{"b":[{"c":1,"c":2}]}}]`))
	f.Add([]byte(`{"na\u006de":1,"name":2}`))
	anyT := reflect.TypeFor[*map[string]any]()
	contactT := reflect.TypeFor[*contactJSON]()
	exact := map[string]bool{}
	for k := range jsonFields(reflect.TypeFor[contactJSON]()) {
		exact[k] = true
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, typ := range []reflect.Type{anyT, contactT} {
			if err := strictJSON(b, typ); err != nil {
				var ae *apperr.Error
				if errors.As(err, &ae) && ae.Code != apperr.Invalid {
					t.Fatalf("%q: code %s", b, ae.Code)
				}
			}
		}
		var v any
		if strictJSON(b, anyT) == nil && json.Unmarshal(b, &v) == nil {
			if want, got := memberCount(b), decodedMembers(v); want >= 0 && got != want {
				t.Fatalf("%q accepted, but decodes to %d members of %d: a duplicate slipped through", b, got, want)
			}
		}
		var m map[string]any
		if strictJSON(b, contactT) == nil && json.Unmarshal(b, &m) == nil {
			for k := range m {
				if !exact[k] {
					t.Fatalf("%q accepted with key %q, not an exact field name", b, k)
				}
			}
		}
	})
}
