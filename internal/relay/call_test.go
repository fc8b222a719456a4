package relay

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/transcript"
)

func modes() []struct {
	name string
	beta bool
} {
	return []struct {
		name string
		beta bool
	}{{"GA", false}, {"beta", true}}
}

func TestAudioFlowsBothWaysUnchanged(t *testing.T) {
	for _, mode := range modes() {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{Beta: mode.beta, ProbeAudio: true}})
			c := h.dial(fake.MediaOptions{})
			s := h.session(1)

			// The agent speaks first: the greeting reaches the caller as
			// 160-byte frames, each delta followed by a named mark.
			waitFor(t, "greeting audio", c.WaitFor, func() bool { return c.ReceivedBytes() >= 5*800 && len(c.MarksReceived()) >= 5 })
			for i, f := range c.MediaLog() {
				if f.Bytes != fake.FrameBytes {
					t.Fatalf("media frame %d has %d bytes, want %d", i, f.Bytes, fake.FrameBytes)
				}
			}
			got := c.Received()
			for i := 0; i < len(got)/fake.FrameBytes; i++ {
				seq, ok := fake.DecodeProbeFrame(got[i*fake.FrameBytes : (i+1)*fake.FrameBytes])
				if !ok || seq != uint32(i+1) {
					t.Fatalf("frame %d: probe %d (ok=%v), want %d: model audio altered or reordered", i, seq, ok, i+1)
				}
			}
			if marks := c.MarksReceived(); len(marks) != 5 {
				t.Fatalf("marks = %v, want one per delta (5)", marks)
			}

			// The caller's audio reaches the model byte for byte.
			var sent [][]byte
			for i := range 30 {
				f := fake.EncodeProbeFrame(uint32(5000 + i))
				sent = append(sent, f)
				if err := c.SendMedia(f); err != nil {
					t.Fatalf("send media: %v", err)
				}
			}
			waitFor(t, "appends", s.WaitFor, func() bool { return s.AppendCount() >= len(sent) })
			app := s.Appended()
			if len(app) != len(sent) {
				t.Fatalf("model got %d appends, want %d", len(app), len(sent))
			}
			for i := range sent {
				if !bytes.Equal(app[i], sent[i]) {
					t.Fatalf("append %d differs from the caller's frame", i)
				}
			}
			// Everything played, so every mark came back; nothing was cut.
			waitFor(t, "mark echoes", c.WaitFor, func() bool { return len(c.MarksEchoed()) == 5 })
			if n := s.CountEvents("conversation.item.truncate"); n != 0 {
				t.Fatalf("truncates = %d, want 0", n)
			}
			if v := c.Violations(); len(v) > 0 {
				t.Fatalf("relay broke the Twilio protocol: %v", v)
			}
			if errs := s.Errors(); len(errs) > 0 {
				t.Fatalf("model reported errors: %+v", errs)
			}
			assertSessionConfig(t, s, mode.beta)

			// Stop ends the call: both sockets close and the record ends.
			if err := c.Stop(); err != nil {
				t.Fatalf("stop: %v", err)
			}
			waitFor(t, "model socket closed", s.WaitFor, s.Closed)
			waitTrue(t, "call end recorded", func() bool { _, ok := h.calls.endReason(c.CallSid()); return ok })
			if why, _ := h.calls.endReason(c.CallSid()); why != string(endStop) {
				t.Fatalf("end reason = %q, want %q", why, endStop)
			}
			if n := len(h.events.ofType(events.StreamStarted)); n != 1 {
				t.Fatalf("stream.started events = %d, want 1", n)
			}
			waitTrue(t, "no live calls", func() bool { return h.relay.Live() == 0 })
		})
	}
}

// assertSessionConfig checks the effective session the fake reports.
func assertSessionConfig(t *testing.T, s *fake.RealtimeSession, beta bool) {
	t.Helper()
	var cfg map[string]any
	if err := json.Unmarshal(s.Config(), &cfg); err != nil {
		t.Fatalf("session config: %v", err)
	}
	get := func(keys ...string) any {
		var cur any = cfg
		for _, k := range keys {
			m, _ := cur.(map[string]any)
			cur = m[k]
		}
		return cur
	}
	tools, _ := cfg["tools"].([]any)
	if len(tools) != 4 {
		t.Fatalf("tools declared = %d, want 4", len(tools))
	}
	if beta {
		if get("input_audio_format") != "g711_ulaw" || get("turn_detection", "type") != "server_vad" {
			t.Fatalf("beta session not configured: %v", cfg)
		}
		return
	}
	for _, check := range []struct {
		got, want any
	}{
		{get("audio", "input", "format", "type"), "audio/pcmu"},
		{get("audio", "output", "format", "type"), "audio/pcmu"},
		{get("audio", "input", "turn_detection", "type"), "server_vad"},
		{get("audio", "input", "transcription", "model"), "whisper-1"},
		{get("audio", "output", "voice"), "alloy"},
	} {
		if check.got != check.want {
			t.Fatalf("session config = %v, want %v", check.got, check.want)
		}
	}
	if !strings.Contains(get("instructions").(string), "telephone assistant") {
		t.Fatalf("instructions not sent")
	}
}

func TestDTMFReachesModelAsText(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "greeting done", s.WaitFor, func() bool { return len(s.Responses()) == 1 && s.ActiveResponse() == "" })
	if err := c.SendDTMF("5"); err != nil {
		t.Fatal(err)
	}
	evs, err := s.WaitEvents(ctx(t), "conversation.item.create", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(evs[0].Raw), "pressed the key 5") {
		t.Fatalf("dtmf item = %s", evs[0].Raw)
	}
	// ... and the model is asked to react.
	waitFor(t, "response to the key press", s.WaitFor, func() bool { return len(s.Responses()) == 2 })
}

func TestTranscriptsStoredAndPublished(t *testing.T) {
	h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{
		UserTranscripts: []string{"Please call +14155550123 for me"},
		Responses:       []fake.ScriptedResponse{{Transcript: "Hello, I am an AI assistant."}},
	}})
	c := h.dial(fake.MediaOptions{})
	h.session(1)
	waitFor(t, "greeting received", c.WaitFor, func() bool { return len(c.MarksReceived()) == 5 })
	if err := c.SendSilence(30); err != nil { // let the greeting play out
		t.Fatal(err)
	}
	if err := c.SendSpeech(20); err != nil {
		t.Fatal(err)
	}
	if err := c.SendSilence(40); err != nil {
		t.Fatal(err)
	}
	first := func(role string) *transcript.Line {
		for _, l := range h.lines.all() {
			if l.Role == role {
				return &l
			}
		}
		return nil
	}
	waitTrue(t, "both transcript lines", func() bool { return first(transcript.RoleCaller) != nil && first(transcript.RoleAgent) != nil })
	for _, role := range []string{transcript.RoleAgent, transcript.RoleCaller} {
		l := first(role)
		if l.CallSID != c.CallSid() || l.Time.IsZero() {
			t.Fatalf("bad line %+v", l)
		}
	}
	if got := first(transcript.RoleAgent).Text; got != "Hello, I am an AI assistant." {
		t.Fatalf("agent line = %q", got)
	}
	if got := first(transcript.RoleCaller).Text; got != "Please call +14155550123 for me" {
		t.Fatalf("caller line = %q", got)
	}
	for _, ev := range h.events.ofType(events.TranscriptLine) {
		if strings.Contains(ev.Data["text"].(string), "4155550123") {
			t.Fatalf("live transcript event shows a full phone number: %v", ev.Data)
		}
	}
}
