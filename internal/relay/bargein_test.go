package relay

import (
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/fake"
)

// In these tests the fake Twilio client runs on virtual time: every frame
// it sends advances the call clock by 20 ms and plays 160 bytes of the
// agent audio it has queued, echoing marks as playback passes them. The
// fake model sends its audio faster than real time, as the real one does.

// greet dials a call and waits until the whole greeting (bytes of audio,
// marks marks) has reached the Twilio client.
func greet(t *testing.T, h *harness, bytes, marks int) (*fake.MediaClient, *fake.RealtimeSession) {
	t.Helper()
	c := h.dial(fake.MediaOptions{})
	s := h.session(1)
	waitFor(t, "greeting received", c.WaitFor, func() bool {
		return c.ReceivedBytes() >= bytes && len(c.MarksReceived()) >= marks
	})
	return c, s
}

func send(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("send: %v", err)
	}
}

func TestBargeInMidAnswer(t *testing.T) {
	for _, mode := range modes() {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{Beta: mode.beta,
				Responses: []fake.ScriptedResponse{{Chunks: 50}}}}) // a 5 s answer
			c, s := greet(t, h, 50*800, 50)

			// The caller listens for 1 s, then talks over the agent.
			send(t, c.SendSilence(50))
			send(t, c.SendSpeech(3))
			waitFor(t, "truncate", s.WaitFor, func() bool { return len(s.Truncates()) == 1 })

			tr := s.Truncates()[0]
			// Frames 0..52 were sent: the latest timestamp is 1040 ms and the
			// answer started playing at 0, well inside its 5000 ms.
			if tr.ItemID != "item_asst_1" || tr.AudioEndMs != 1040 {
				t.Fatalf("truncate = %+v, want item_asst_1 at 1040 ms", tr)
			}
			waitFor(t, "clear", c.WaitFor, func() bool { return len(c.Clears()) == 1 })
			if c.QueuedBytes() != 0 {
				t.Fatalf("queued audio after clear = %d", c.QueuedBytes())
			}
			if errs := s.Errors(); len(errs) > 0 {
				t.Fatalf("model errors: %+v", errs)
			}
		})
	}
}

func TestNoBargeInAfterAnswerFinishedPlaying(t *testing.T) {
	for _, mode := range modes() {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{Beta: mode.beta}}) // 500 ms answer
			c, s := greet(t, h, 5*800, 5)
			send(t, c.SendSilence(40)) // 800 ms: the answer has played out
			waitFor(t, "all marks echoed", c.WaitFor, func() bool { return len(c.MarksEchoed()) == 5 })

			// The caller speaks; the model answers again.
			send(t, c.SendSpeech(10))
			send(t, c.SendSilence(30))
			waitFor(t, "second answer", c.WaitFor, func() bool { return c.ReceivedBytes() >= 2*5*800 })
			if n := s.CountEvents("conversation.item.truncate"); n != 0 {
				t.Fatalf("truncates = %d, want none after a finished answer", n)
			}
			if n := len(c.Clears()); n != 0 {
				t.Fatalf("clears = %d, want none after a finished answer", n)
			}
		})
	}
}

func TestBargeInTwoItemsInOneResponse(t *testing.T) {
	cases := []struct {
		name    string
		silence int
		want    []fake.Truncate
	}{
		// Each item is 1000 ms; item 2 starts playing when item 1 ends.
		{"during the second item", 75, []fake.Truncate{{ItemID: "item_asst_2", AudioEndMs: 540}}},
		{"during the first item", 25, []fake.Truncate{{ItemID: "item_asst_1", AudioEndMs: 540}, {ItemID: "item_asst_2", AudioEndMs: 0}}},
	}
	for _, mode := range modes() {
		for _, tc := range cases {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{Beta: mode.beta,
					Responses: []fake.ScriptedResponse{{Items: 2, Chunks: 10}}}})
				c, s := greet(t, h, 2*10*800, 20)
				send(t, c.SendSilence(tc.silence))
				send(t, c.SendSpeech(3))
				waitFor(t, "truncates", s.WaitFor, func() bool { return len(s.Truncates()) >= len(tc.want) })
				got := s.Truncates()
				if len(got) != len(tc.want) {
					t.Fatalf("truncates = %+v, want %+v", got, tc.want)
				}
				for i := range got {
					if got[i].ItemID != tc.want[i].ItemID || got[i].AudioEndMs != tc.want[i].AudioEndMs {
						t.Fatalf("truncate %d = %+v, want %+v", i, got[i], tc.want[i])
					}
				}
				if errs := s.Errors(); len(errs) > 0 {
					t.Fatalf("model errors: %+v", errs)
				}
			})
		}
	}
}

func TestLateDeltasAfterClearAreDropped(t *testing.T) {
	for _, mode := range modes() {
		t.Run(mode.name, func(t *testing.T) {
			// A long answer still being generated when the caller cuts in;
			// the fake then sends 4 more deltas of the cancelled item.
			h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{Beta: mode.beta,
				ChunkInterval: 5 * time.Millisecond, LateDeltasAfterCancel: 4,
				Responses: []fake.ScriptedResponse{{Chunks: 400}}}})
			c, s := greet(t, h, 20*800, 20)
			send(t, c.SendSilence(10))
			send(t, c.SendSpeech(3))
			waitFor(t, "clear", c.WaitFor, func() bool { return len(c.Clears()) == 1 })
			clearAt := c.Clears()[0]
			waitFor(t, "truncate", s.WaitFor, func() bool { return len(s.Truncates()) == 1 })
			if tr := s.Truncates()[0]; tr.ItemID != "item_asst_1" || tr.AudioEndMs > tr.GeneratedMs || tr.AudioEndMs <= 0 {
				t.Fatalf("truncate = %+v", tr)
			}
			waitFor(t, "answer cancelled", s.WaitFor, func() bool {
				r := s.Responses()
				return len(r) == 1 && r[0].Status == "cancelled"
			})

			// The caller stops talking; the model answers anew. Everything
			// played after the clear is that new answer, nothing of the old.
			send(t, c.SendSilence(30))
			waitFor(t, "second answer done", s.WaitFor, func() bool {
				r := s.Responses()
				return len(r) == 2 && r[1].Status == "completed"
			})
			want := s.Responses()[1].AudioBytes
			waitFor(t, "second answer received", c.WaitFor, func() bool { return len(c.MarksReceived()) > 0 && c.ReceivedSince(clearAt) >= want })
			send(t, c.SendSilence(30))
			waitFor(t, "second answer played", c.WaitFor, func() bool { return c.PendingMarks() == 0 })
			if got := c.ReceivedSince(clearAt); got != want {
				t.Fatalf("audio after clear = %d bytes, want %d (only the new answer)", got, want)
			}
		})
	}
}

func TestBargeInOnALongAnswerIsNoFlood(t *testing.T) {
	// A 25 s answer (250 deltas of 100 ms, each followed by a mark) reaches
	// Twilio long before it plays. The caller cuts in after 0.2 s; the clear
	// makes Twilio return about 248 marks at once, more than the flood
	// limiter's burst of 200.
	h := newHarness(t, harnessOpts{rt: fake.RealtimeOptions{Responses: []fake.ScriptedResponse{{Chunks: 250}}}})
	c, s := greet(t, h, 250*800, 250)
	send(t, c.SendSilence(10))
	send(t, c.SendSpeech(3))
	waitFor(t, "clear", c.WaitFor, func() bool { return len(c.Clears()) == 1 })
	waitFor(t, "every mark returned", c.WaitFor, func() bool { return len(c.MarksEchoed()) == 250 || c.Closed() })
	if cleared := len(c.MarksEchoed()) - countPlayed(c.MarksEchoed()); cleared <= msgBurst {
		t.Fatalf("only %d marks returned by the clear; the test needs more than %d", cleared, msgBurst)
	}

	// The call goes on: the caller finishes and the model answers.
	send(t, c.SendSilence(30))
	waitFor(t, "second answer", c.WaitFor, func() bool { return len(c.MarksReceived()) == 255 || c.Closed() })
	if c.Closed() {
		t.Fatalf("the call was closed (code %d) after a barge-in", c.CloseCode())
	}
	if n := len(s.Responses()); n != 2 {
		t.Fatalf("responses = %d, want the long answer and a second one", n)
	}
	if tr := s.Truncates(); len(tr) != 1 || tr[0].AudioEndMs > 300 {
		t.Fatalf("truncates = %+v, want one at about 0.2 s", tr)
	}
	if alerts := h.audit.ofType(audit.TypeSecurityAlert); len(alerts) != 0 {
		t.Fatalf("security alerts = %+v", alerts)
	}
}

func countPlayed(echoes []fake.MarkEcho) int {
	n := 0
	for _, e := range echoes {
		if !e.Cleared {
			n++
		}
	}
	return n
}
