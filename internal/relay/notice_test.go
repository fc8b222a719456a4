package relay

import (
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/fake"
)

// TestGreetingCarriesTheConsentNotice: by default the agent's first turn
// tells the caller, word for word, that an AI assistant handles the call
// and that it is transcribed; TRANSCRIPTION_NOTICE replaces the text and
// "off" removes it.
func TestGreetingCarriesTheConsentNotice(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"", config.DefaultTranscriptionNotice},
		{"Calls are recorded.", "Calls are recorded."},
		{"off", ""},
	} {
		h := newHarness(t, harnessOpts{env: map[string]string{"TRANSCRIPTION_NOTICE": tc.env}})
		h.dial(fake.MediaOptions{})
		s := h.session(1)
		creates, err := s.WaitEvents(ctx(t), "response.create", 1)
		if err != nil {
			t.Fatal(err)
		}
		instr, _ := responseCreateParams(t, creates[0])
		if !strings.Contains(instr, "Greet the caller.") {
			t.Fatalf("greeting lost: %q", instr)
		}
		if tc.want == "" {
			if strings.Contains(instr, "word for word") || strings.Contains(instr, "transcribed") {
				t.Fatalf("TRANSCRIPTION_NOTICE=off: greeting still has a notice: %q", instr)
			}
			continue
		}
		if !strings.Contains(instr, `"`+tc.want+`"`) {
			t.Fatalf("TRANSCRIPTION_NOTICE=%q: greeting = %q, want the notice quoted", tc.env, instr)
		}
	}
	if !strings.Contains(config.DefaultTranscriptionNotice, "AI assistant") || !strings.Contains(config.DefaultTranscriptionNotice, "transcribed") {
		t.Fatalf("default notice %q must say AI assistant and transcribed", config.DefaultTranscriptionNotice)
	}
}
