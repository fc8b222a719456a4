package events

import "strings"

// IsBidiControl reports the Unicode bidirectional formatting characters
// (ALM, LRM, RLM, the embeddings and overrides, the isolates).
func IsBidiControl(r rune) bool {
	return r == 0x061C || r == 0x200E || r == 0x200F || r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

// stripBidi returns data with bidi controls removed from its string
// values, so no text a caller or the model chose can reverse a viewer's
// line (the server's own labels included). The map is copied only when
// something is removed; publishers may keep theirs.
func stripBidi(data map[string]any) map[string]any {
	var out map[string]any
	for k, v := range data {
		s, ok := v.(string)
		if !ok || !strings.ContainsFunc(s, IsBidiControl) {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(data))
			for k2, v2 := range data {
				out[k2] = v2
			}
		}
		out[k] = strings.Map(func(r rune) rune {
			if IsBidiControl(r) {
				return -1
			}
			return r
		}, s)
	}
	if out == nil {
		return data
	}
	return out
}
