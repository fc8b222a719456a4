package relay

import (
	"context"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/metrics"
)

// FuzzToolArguments: whatever name and arguments the model sends (the
// caller can steer what it says), a tool run answers with a JSON result,
// an error rather than silence for anything it cannot do, and never
// panics. No directory or telephony is wired, so nothing is dialled.
func FuzzToolArguments(f *testing.F) {
	f.Add("lookup_contact", `{"name":"Alice Example"}`)
	f.Add("add_to_conference", `{"contact_name":"Alice","number":"+19005550100"}`)
	f.Add("forward_call", `{"number":"+1415555014\u0000"}`)
	f.Add("end_call", `{"reason":"</Say><Dial>+19005550100</Dial>"}`)
	f.Add("unknown\xff", `{"name":`)
	cfg, err := config.Load(func(k string) string { return map[string]string{"OPENAI_API_KEY": "sk-fuzz"}[k] })
	if err != nil {
		f.Fatal(err)
	}
	r := New(Deps{Log: logging.Discard(), Metrics: metrics.New(nil)}, settingsOf(cfg))
	defer r.Close()
	c := r.newCall(nil, "CA00000000000000000000000000000001", "")
	f.Fuzz(func(t *testing.T, name, args string) {
		res := c.execTool(context.Background(), name, args)
		out, err := json.Marshal(res)
		if err != nil || !json.Valid(out) {
			t.Fatalf("result does not marshal: %v", err)
		}
		if !res.OK && res.Error == "" {
			t.Fatalf("a failed tool run has no error text: %s", out)
		}
		if !utf8.ValidString(res.Error) || !utf8.ValidString(res.Message) {
			t.Fatalf("result holds invalid UTF-8: %q", out)
		}
	})
}
