package logging

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestRedactingMasksEveryPath: the message, string, error and grouped
// attributes (and attributes bound with With) are masked; identifiers are
// left as they are.
func TestRedactingMasksEveryPath(t *testing.T) {
	var b strings.Builder
	log := New(&b, "json", "debug").With("bound", "from 415.555.0123")
	log.Error("call +1 (415) 555-0123 failed",
		"path", "/api/data/%2B14155550123",
		"err", errors.New("insert 415-555-0123: locked"),
		slog.Group("req", "to", "4 1 5 5 5 5 0 1 2 3"),
		"call_sid", "CA0123456789abcdef0123456789abcdef",
		"request_id", "12345678-1234",
		"bytes", 123456789, // numbers stay numbers (sizes, durations)
	)
	out := b.String()
	for _, leak := range []string{"555-0123", "5550123", "555.0123", "5 5 5 5 0 1 2 3"} {
		if strings.Contains(out, leak) {
			t.Fatalf("log holds %q: %s", leak, out)
		}
	}
	for _, kept := range []string{"CA0123456789abcdef0123456789abcdef", "12345678-1234", "+1 (***) ***-**23", `"bytes":123456789`} {
		if !strings.Contains(out, kept) {
			t.Fatalf("log lost %q: %s", kept, out)
		}
	}
}
