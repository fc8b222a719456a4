package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

// encoding/json matches object keys to struct fields case-insensitively
// and lets a repeated key overwrite the earlier one, so {"name":"a",
// "NAME":"b"} or {"phoneNumber":"+1555...","phoneNumber":"..."} decode
// without complaint, and two parsers in a chain (a proxy, a WAF, us) can
// read different values from one body. strictJSON walks the document token
// by token alongside the destination's type before it is decoded and
// refuses, with 400, any key that is not exactly a field's JSON name and
// any key that appears twice in one object (at any depth, in maps too).

// maxJSONDepth bounds nesting; request bodies are flat.
const maxJSONDepth = 32

// strictJSON checks b against t (the type decoded into).
func strictJSON(b []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return strictValue(dec, t, 0)
}

// strictValue consumes one value. t nil means "any shape": only duplicate
// keys are checked below it.
func strictValue(dec *json.Decoder, t reflect.Type, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar
	}
	if depth >= maxJSONDepth {
		return apperr.New(apperr.Invalid, "JSON nested too deeply")
	}
	t = shape(t)
	switch d {
	case '{':
		var fields map[string]reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			if seen[key] {
				return apperr.Errorf(apperr.Invalid, "duplicate field %q", clipKey(key))
			}
			seen[key] = true
			var vt reflect.Type
			switch {
			case fields != nil:
				ft, ok := fields[key]
				if !ok {
					return apperr.Errorf(apperr.Invalid, "unknown field %q", clipKey(key))
				}
				vt = ft
			case t != nil && t.Kind() == reflect.Map:
				vt = t.Elem()
			}
			if err := strictValue(dec, vt, depth+1); err != nil {
				return err
			}
		}
	case '[':
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for dec.More() {
			if err := strictValue(dec, et, depth+1); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// shape returns the type whose fields a JSON value fills: pointers
// followed; nil for interfaces and types that decode themselves (their
// own rules apply; duplicates are still refused).
func shape(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface {
		return nil
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil
	}
	return t
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields maps the exact JSON names of t's fields, as encoding/json
// would see them (tag name or Go name; "-" skipped; embedded structs
// without a tag flattened), to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	addFields(t, m, 0)
	fieldCache.Store(t, m)
	return m
}

func addFields(t reflect.Type, m map[string]reflect.Type, depth int) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && depth < 8 {
				addFields(ft, m, depth+1)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := m[name]; !dup {
			m[name] = f.Type
		}
	}
}

func clipKey(k string) string {
	if len(k) > 40 {
		return k[:40] + "..."
	}
	return k
}

// readStrict reads the whole (size-limited) body and checks it with
// strictJSON before it is decoded into dst.
func readStrict(body io.Reader, dst any) ([]byte, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, jsonError(err)
	}
	if err := strictJSON(b, reflect.TypeOf(dst)); err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return nil, err
		}
		return nil, jsonError(err)
	}
	return b, nil
}
