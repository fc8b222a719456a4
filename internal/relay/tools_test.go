package relay

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/fake"
)

// toolOutputs decodes the function_call_output items the model received.
func toolOutputs(t *testing.T, s *fake.RealtimeSession) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, fo := range s.FunctionOutputs() {
		var m map[string]any
		if err := json.Unmarshal([]byte(fo.Output), &m); err != nil {
			t.Fatalf("tool output is not JSON: %q", fo.Output)
		}
		m["call_id"] = fo.CallID
		out = append(out, m)
	}
	return out
}

func TestToolLookupThenAddToConference(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.dir.add("Alice Example", "+14155550100")
	// The greeting is the first response; the caller's request leads the
	// model to call lookup_contact, then add_to_conference.
	h.rt.NextResponseCallsTool("lookup_contact", `{"name":"alice example"}`)
	h.rt.NextResponseCallsTool("add_to_conference", `{"contact_name":"Alice Example"}`)
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)

	waitFor(t, "both tool results", s.WaitFor, func() bool { return len(s.FunctionOutputs()) == 2 })
	outs := toolOutputs(t, s)
	if outs[0]["call_id"] != "call_1" || outs[0]["ok"] != true || outs[0]["name"] != "Alice Example" {
		t.Fatalf("lookup output = %v", outs[0])
	}
	if num, _ := outs[0]["number"].(string); strings.Contains(num, "555010") || !strings.HasSuffix(num, "00") {
		t.Fatalf("lookup must mask the number, got %q", num)
	}
	if outs[1]["call_id"] != "call_2" || outs[1]["ok"] != true {
		t.Fatalf("add_to_conference output = %v", outs[1])
	}
	added, _, _, _ := h.tel.snapshot()
	if len(added) != 1 || added[0] != c.CallSid()+" +14155550100" {
		t.Fatalf("telephony calls = %v", added)
	}
	// Each output is followed by response.create: the model speaks again.
	waitFor(t, "answer after the tools", s.WaitFor, func() bool {
		r := s.Responses()
		return len(r) == 3 && r[2].Status == "completed"
	})
	if !strings.Contains(s.Responses()[2].Transcript, "Connecting the caller with Alice Example") {
		t.Fatalf("final answer transcript = %q", s.Responses()[2].Transcript)
	}
	if n := len(h.events.ofType(events.Transfer)); n != 1 {
		t.Fatalf("transfer events = %d", n)
	}
	// Twilio ends the stream when it moves the call into the conference:
	// the call itself goes on, so its record is not ended.
	send(t, c.Stop())
	waitTrue(t, "stream ended", func() bool { return h.relay.Live() == 0 })
	if why, ok := h.calls.endReason(c.CallSid()); ok {
		t.Fatalf("a transferred call was marked ended (%s)", why)
	}
	waitTrue(t, "stream.stopped", func() bool { return len(h.events.ofType(events.StreamStopped)) == 1 })
	if evs := h.events.ofType(events.StreamStopped); evs[0].Data["reason"] != "transferred" {
		t.Fatalf("stream.stopped = %+v", evs)
	}
	if evs := h.events.ofType(events.CallEnded); len(evs) != 0 {
		t.Fatalf("call.ended published for a call that goes on: %+v", evs)
	}
}

func TestToolErrorsAreAnswered(t *testing.T) {
	cases := []struct {
		name, tool, args, wantErr string
		setup                     func(h *harness)
		env                       map[string]string
	}{
		{name: "unknown tool", tool: "fly_to_the_moon", args: `{}`, wantErr: "unknown tool"},
		{name: "bad JSON", tool: "lookup_contact", args: `{"name":`, wantErr: "not valid JSON"},
		{name: "no such contact", tool: "lookup_contact", args: `{"name":"Nobody"}`, wantErr: "no contact"},
		{name: "missing target", tool: "forward_call", args: `{}`, wantErr: "contact_name or a number"},
		{name: "bad number", tool: "forward_call", args: `{"number":"12ab"}`, wantErr: "E.164 form"},
		// Strict E.164 for the model's numbers: no lenient
		// normalisation turning a premium-rate number into another.
		{name: "lenient form (dial policy any)", tool: "forward_call", args: `{"number":"900-555-0100"}`, wantErr: "E.164 form",
			env: map[string]string{"AGENT_DIAL_POLICY": "any"}},
		{name: "spaces (dial policy any)", tool: "forward_call", args: `{"number":"+1 415 555 0142"}`, wantErr: "E.164 form",
			env: map[string]string{"AGENT_DIAL_POLICY": "any"}},
		{name: "number not a contact (contacts-only)", tool: "add_to_conference", args: `{"number":"+14155550199"}`, wantErr: "only saved contacts"},
		{
			name: "contact on the deny list", tool: "add_to_conference", args: `{"contact_name":"Mallory"}`, wantErr: "cannot be dialled",
			setup: func(h *harness) {
				h.dir.add("Mallory", "+14155550166")
				h.deny.numbers = []string{"+14155550166"}
			},
		},
		{
			name: "number on the deny list (dial policy any)", tool: "forward_call", args: `{"number":"+14155550177"}`, wantErr: "cannot be dialled",
			env:   map[string]string{"AGENT_DIAL_POLICY": "any"},
			setup: func(h *harness) { h.deny.numbers = []string{"+14155550177"} },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{env: tc.env})
			if tc.setup != nil {
				tc.setup(h)
			}
			h.rt.NextResponseCallsTool(tc.tool, tc.args)
			h.dial(fake.MediaOptions{})
			s := h.session(1)
			waitFor(t, "tool output", s.WaitFor, func() bool { return len(s.FunctionOutputs()) == 1 })
			out := toolOutputs(t, s)[0]
			if out["ok"] != false || !strings.Contains(out["error"].(string), tc.wantErr) {
				t.Fatalf("output = %v, want an error containing %q", out, tc.wantErr)
			}
			// Never silence: the model is asked to answer.
			waitFor(t, "answer after the error", s.WaitFor, func() bool { return len(s.Responses()) == 2 })
			added, forwards, _, _ := h.tel.snapshot()
			if len(added)+len(forwards) != 0 {
				t.Fatalf("something was dialled: %v %v", added, forwards)
			}
		})
	}
}

func TestToolNumberAllowedByPolicy(t *testing.T) {
	h := newHarness(t, harnessOpts{env: map[string]string{"AGENT_DIAL_POLICY": "any"}})
	h.rt.NextResponseCallsTool("forward_call", `{"number":"+14155550142"}`)
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "tool output", s.WaitFor, func() bool { return len(s.FunctionOutputs()) == 1 })
	if out := toolOutputs(t, s)[0]; out["ok"] != true {
		t.Fatalf("output = %v", out)
	}
	_, forwards, _, _ := h.tel.snapshot()
	if len(forwards) != 1 || forwards[0] != c.CallSid()+" +14155550142" {
		t.Fatalf("forwards = %v", forwards)
	}
}

func TestToolResultWaitsForActiveResponse(t *testing.T) {
	// The server answers the tool output itself at once (as server VAD
	// does when the caller keeps talking); that answer runs about 150 ms.
	// The relay's response.create after the output then either reaches the
	// server while that answer is active (refused with
	// conversation_already_has_active_response, sent again after its
	// response.done), or, when the server's response.created reached the
	// relay first, waits for its response.done. Which one happens is the
	// network's doing; either way the relay's answer starts only after the
	// server's own is done.
	h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{RespondToToolOutput: true,
		ChunkInterval: 5 * time.Millisecond, Responses: []fake.ScriptedResponse{{Chunks: 30}}}})
	h.dir.add("Alice Example", "+14155550100")
	h.rt.NextResponseCallsTool("lookup_contact", `{"name":"Alice Example"}`)
	h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "response after the server's own", s.WaitFor, func() bool {
		r := s.Responses()
		return len(r) == 3 && r[2].Status == "completed"
	})
	r := s.Responses()
	if r[0].Tool == nil || !strings.Contains(r[1].Transcript, "Tool result") || r[1].Instructions != "" {
		t.Fatalf("responses = %+v, want the tool call, then the server's own answer to its output", r)
	}
	creates := s.EventsOfType("response.create")
	errs := s.Errors()
	last := creates[len(creates)-1]
	switch len(creates) {
	case 3: // greeting, after the tool (refused), again after response.done
		if len(errs) != 1 || errs[0].Code != "conversation_already_has_active_response" ||
			errs[0].EventID == "" || errs[0].EventID != creates[1].EventID {
			t.Fatalf("errors = %+v, want one conflict naming response.create %q", errs, creates[1].EventID)
		}
		if last.EventID == creates[1].EventID {
			t.Fatalf("the retry reused the refused event_id %q", last.EventID)
		}
	case 2: // greeting, then the answer queued behind the server's
		if len(errs) != 0 {
			t.Fatalf("errors = %+v, want none", errs)
		}
	default:
		t.Fatalf("response.create sent %d times, want 2 or 3", len(creates))
	}
	if !last.At.After(r[1].DoneAt) {
		t.Fatalf("the relay's answer was asked for at %v, before the server's response was done at %v", last.At, r[1].DoneAt)
	}
}

// TestRefusedCreateIsSentAgainAfterTheActiveResponse: a response.create the
// model refuses because a response is active is queued, not re-sent at
// once, and goes out with a new event_id at the next response.done; a
// refusal naming another event changes nothing.
func TestRefusedCreateIsSentAgainAfterTheActiveResponse(t *testing.T) {
	var st lineState
	first := st.wantResponse("", false)
	if first == nil {
		t.Fatal("no response.create with no response active")
	}
	firstID := st.resp.createID
	if mine, msg := st.createRefused("evt_other", true); mine || msg != nil {
		t.Fatalf("a refusal of another event was taken as ours (%v, %s)", mine, msg)
	}
	if mine, msg := st.createRefused(firstID, true); !mine || msg != nil {
		t.Fatalf("conflict = (%v, %s), want ours and nothing sent at once", mine, msg)
	}
	st.responseCreated("resp_server", false) // the response that was active
	if msg := st.wantResponse("", false); msg != nil {
		t.Fatalf("a second response.create while one is active: %s", msg)
	}
	msg, hang := st.responseDone("resp_server")
	if msg == nil || hang {
		t.Fatalf("after response.done: %s, hang up %v; want the queued response.create", msg, hang)
	}
	if !strings.Contains(string(msg), `"response.create"`) || strings.Contains(string(msg), firstID+`"`) {
		t.Fatalf("re-sent create = %s, want a new event_id (refused: %s)", msg, firstID)
	}
}

func TestEndCallSaysGoodbyeThenHangsUp(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.rt.NextResponseCallsTool("end_call", `{"reason":"caller is done"}`)
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "goodbye answer", s.WaitFor, func() bool {
		r := s.Responses()
		return len(r) == 2 && r[1].Status == "completed"
	})
	// The goodbye plays, then the call is hung up through Twilio.
	waitFor(t, "goodbye received", c.WaitFor, func() bool { return len(c.MarksReceived()) == 5 })
	_ = c.SendSilence(30) // the relay hangs up once the goodbye has played
	waitFor(t, "stream closed", c.WaitFor, c.Closed)
	_, _, ended, _ := h.tel.snapshot()
	if len(ended) != 1 || ended[0] != c.CallSid() {
		t.Fatalf("hang-ups = %v", ended)
	}
	waitTrue(t, "call end recorded", func() bool { _, ok := h.calls.endReason(c.CallSid()); return ok })
	if why, _ := h.calls.endReason(c.CallSid()); why != string(endAgent) {
		t.Fatalf("end reason = %q", why)
	}
}
