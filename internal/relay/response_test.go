package relay

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/fake"
)

// responseCreateParams decodes the "response" of a response.create event.
func responseCreateParams(t *testing.T, ev fake.ClientEvent) (instructions string, metadata map[string]string) {
	t.Helper()
	var m struct {
		Response *struct {
			Instructions string            `json:"instructions"`
			Metadata     map[string]string `json:"metadata"`
		} `json:"response"`
	}
	if err := json.Unmarshal(ev.Raw, &m); err != nil {
		t.Fatalf("response.create %s: %v", ev.Raw, err)
	}
	if m.Response == nil {
		return "", nil
	}
	return m.Response.Instructions, m.Response.Metadata
}

func TestGreetingInstructionsReachResponseCreate(t *testing.T) {
	h := newHarness(t, harnessOpts{env: map[string]string{"AGENT_GREETING": "Say hello from the test greeting."}})
	h.dial(fake.MediaOptions{})
	s := h.session(1)
	creates, err := s.WaitEvents(ctx(t), "response.create", 1)
	if err != nil {
		t.Fatal(err)
	}
	instr, meta := responseCreateParams(t, creates[0])
	if !strings.Contains(instr, "Say hello from the test greeting.") || !strings.HasPrefix(instr, h.cfg.AgentInstructions) {
		t.Fatalf("greeting instructions = %q", instr)
	}
	if meta != nil || creates[0].EventID == "" {
		t.Fatalf("greeting response.create: metadata %v, event_id %q", meta, creates[0].EventID)
	}
}

func TestRefusedResponseCreateDoesNotBlockLaterOnes(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	// The greeting's response.create is refused (not for an active response).
	h.rt.FailNextResponseCreate("invalid_value", "Invalid value for 'response.instructions'.")
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "greeting refused", s.WaitFor, func() bool { return len(s.Errors()) == 1 })
	creates := s.EventsOfType("response.create")
	if e := s.Errors()[0]; len(creates) != 1 || e.EventID == "" || e.EventID != creates[0].EventID {
		t.Fatalf("error %+v does not name the response.create %+v", e, creates)
	}
	// A key press asks for a response: it is sent, not queued behind the
	// refused one forever.
	send(t, c.SendDTMF("5"))
	waitFor(t, "response to the key press", s.WaitFor, func() bool {
		r := s.Responses()
		return len(r) == 1 && r[0].Status == "completed"
	})

	// The refusal is a model error: published and audited.
	waitTrue(t, "error event", func() bool { return len(h.events.ofType(events.Error)) == 1 })
	ev := h.events.ofType(events.Error)[0]
	if ev.CallSID != c.CallSid() || ev.Data["source"] != "model" || ev.Data["code"] != "invalid_value" {
		t.Fatalf("error event = %+v", ev)
	}
	if rows := h.audit.ofType(audit.TypeError); len(rows) != 1 || rows[0].Detail["code"] != "invalid_value" {
		t.Fatalf("error_occurred rows = %+v", rows)
	}
}

func TestGoodbyeIsMatchedByMetadata(t *testing.T) {
	// end_call: the relay sends the tool output, then the goodbye's
	// response.create. The server answers the output itself first (as VAD
	// may), so the goodbye is refused, retried after that answer, and only
	// its own response may hang up. Responses start 200 ms after
	// response.created, so the goodbye's audio is still to come when the
	// server's answer has played.
	h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{RespondToToolOutput: true, ResponseDelay: 200 * time.Millisecond}})
	h.rt.NextResponseCallsTool("end_call", `{"reason":"caller is done"}`)
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "server's own answer", s.WaitFor, func() bool {
		r := s.Responses()
		return len(r) >= 2 && r[1].Status == "completed"
	})
	waitFor(t, "its audio", c.WaitFor, func() bool { return len(c.MarksReceived()) >= 5 })
	send(t, c.SendSilence(30)) // plays it out, before the goodbye's audio arrives
	waitFor(t, "goodbye answer", c.WaitFor, func() bool { return len(c.MarksReceived()) == 10 || c.Closed() })
	if c.Closed() {
		t.Fatal("the call was hung up after the server's answer, before the goodbye")
	}
	r := s.Responses()
	if len(r) != 3 || r[1].Metadata != nil || r[2].Metadata["voiceagent"] != "goodbye" {
		t.Fatalf("responses = %+v, want the goodbye tagged and the server's answer not", r)
	}
	_ = c.SendSilence(30) // the goodbye plays; the relay hangs up part-way through
	waitFor(t, "stream closed", c.WaitFor, c.Closed)
	if _, _, ended, _ := h.tel.snapshot(); len(ended) != 1 {
		t.Fatalf("hang-ups = %v", ended)
	}
	if got, want := c.ReceivedBytes(), r[1].AudioBytes+r[2].AudioBytes; got != want {
		t.Fatalf("caller heard %d bytes, want both answers (%d)", got, want)
	}
	creates := s.EventsOfType("response.create")
	if _, meta := responseCreateParams(t, creates[len(creates)-1]); meta["voiceagent"] != "goodbye" {
		t.Fatalf("goodbye response.create metadata = %v", meta)
	}
}
