package panics_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/panics"
)

func TestLogRedactsAndHidesTheStackInProduction(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	panics.Log(log, "contained", "test", errors.New("dial +15555550123 failed"), false)
	out := buf.String()
	if strings.Contains(out, "5555550123") || strings.Contains(out, "stack") || !strings.Contains(out, `"component":"test"`) {
		t.Fatalf("production line = %s", out)
	}
	buf.Reset()
	panics.Log(log, "contained", "test", struct{ secret string }{"s3cr3t"}, true)
	out = buf.String()
	if strings.Contains(out, "s3cr3t") || !strings.Contains(out, "stack") {
		t.Fatalf("development line = %s", out)
	}
}
