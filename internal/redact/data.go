package redact

import (
	"encoding/json"
	"strings"
)

// Data returns a copy of m safe for a log line, an audit row or a live
// viewer: every string in it, however deeply nested, passes through Text.
// Left as they are: identifiers whose key ends in "Sid" or "_sid" (their
// digit runs are not numbers) and the keyed hashes that stand for erased
// numbers ("erased:..."). m itself is never modified.
func Data(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok && isSIDKey(k) {
			out[k] = s
			continue
		}
		out[k] = value(v)
	}
	return out
}

func value(v any) any {
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "erased:") {
			return x
		}
		return Text(x)
	case map[string]any:
		return Data(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = value(e)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = Text(e)
		}
		return out
	case nil, bool, int, int64, float64, int32, uint, uint32, uint64, float32:
		// Numbers, booleans and nil carry no phone number.
		return x
	default:
		// Anything else is masked in its generic JSON form.
		b, err := json.Marshal(x)
		if err != nil {
			return nil
		}
		var generic any
		if json.Unmarshal(b, &generic) != nil {
			return nil
		}
		return value(generic)
	}
}

func isSIDKey(k string) bool {
	return strings.HasSuffix(k, "Sid") || strings.HasSuffix(k, "_sid") || k == "sid"
}
