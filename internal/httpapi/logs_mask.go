package httpapi

import (
	"encoding/json"
	"strings"

	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// maskEvent returns a copy of ev safe for a viewer: unless show is set,
// every string in Data passes through the masking helper (phone numbers
// anywhere in free text), except identifiers whose key ends in "Sid",
// whose digit runs are not numbers. The bus's copy is never modified.
func maskEvent(ev events.Event, show bool) events.Event {
	if show || len(ev.Data) == 0 {
		return ev
	}
	ev.Data = maskMap(ev.Data)
	return ev
}

func maskMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok && isSIDKey(k) {
			out[k] = s
			continue
		}
		out[k] = maskValue(v)
	}
	return out
}

func maskValue(v any) any {
	switch x := v.(type) {
	case string:
		return redact.Text(x)
	case map[string]any:
		return maskMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = maskValue(e)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = redact.Text(e)
		}
		return out
	default:
		// Numbers, booleans and nil carry no phone number; anything else a
		// publisher put in is masked in its generic JSON form.
		switch x.(type) {
		case nil, bool, int, int64, float64, int32, uint, uint32, uint64, float32:
			return x
		}
		b, err := json.Marshal(x)
		if err != nil {
			return nil
		}
		var generic any
		if json.Unmarshal(b, &generic) != nil {
			return nil
		}
		return maskValue(generic)
	}
}

func isSIDKey(k string) bool {
	return strings.HasSuffix(k, "Sid") || strings.HasSuffix(k, "_sid") || k == "sid"
}
