package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/poll"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// collector reads a /logs socket in the background, keeping the events
// it sees.
type collector struct {
	mu   sync.Mutex
	msgs []wireMsg // every event, in arrival order
	err  error
	done chan struct{}
}

func collect(conn *websocket.Conn) *collector {
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				return
			}
			var m wireMsg
			if json.Unmarshal(b, &m) != nil {
				continue
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	return c
}

// call returns the event types seen for one call and its transcript.
func (c *collector) call(sid string) (types, lines []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.msgs {
		if m.CallSID != sid {
			continue
		}
		types = append(types, m.Type)
		if m.Type == events.TranscriptLine {
			lines = append(lines, fmt.Sprint(m.Data["text"]))
		}
	}
	return types, lines
}

func counterValue(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// simulatedCall is the event sequence of one call, with sequence numbers.
func simulatedCall(sid string, seq int, lineText string, lines int) []events.Event {
	evs := []events.Event{
		{Type: events.CallReceived, CallSID: sid, Data: map[string]any{"decision": "accept", "from": "+14155550123"}},
		{Type: events.CallAccepted, CallSID: sid},
		{Type: events.StreamStarted, CallSID: sid, Data: map[string]any{"streamSid": "MZ00000000000000000000000000000001"}},
	}
	for i := 0; i < lines; i++ {
		role := []string{"caller", "agent"}[i%2]
		evs = append(evs, events.Event{Type: events.TranscriptLine, CallSID: sid, Data: map[string]any{"role": role, "text": lineText}})
	}
	evs = append(evs,
		events.Event{Type: events.StreamStopped, CallSID: sid, Data: map[string]any{"reason": "completed"}},
		events.Event{Type: events.CallEnded, CallSID: sid, Data: map[string]any{"durationSec": 42, "status": "completed"}},
	)
	for i := range evs {
		evs[i].Data = withSeq(evs[i].Data, seq+i)
	}
	return evs
}

func withSeq(d map[string]any, seq int) map[string]any {
	if d == nil {
		d = map[string]any{}
	}
	d["seq"] = seq
	return d
}

// TestLogsTwoViewersAndASlowOne: two viewers and a third that never
// reads watch a real simulated call. The slow one (a short queue, and a
// socket through which nothing drains) is dropped by the call's own
// events: counted, closed with 1013. The two others see every event of
// the call in order, and the call carries on undisturbed: the greeting,
// the caller speaking and the agent answering, the end.
func TestLogsTwoViewersAndASlowOne(t *testing.T) {
	rig := newLiveRig(t, nil, nil)
	srv := rig.srv
	all := recordBus(t, srv.Bus)
	fast := []*collector{collect(dialLogs(t, srv)), collect(dialLogs(t, srv))}

	front := newStallFront(t, srv)
	srv.Bus.SetQueueSize(2) // the slow viewer's queue only
	slow := dialLogs(t, front.srv)
	srv.Bus.SetQueueSize(0)
	front.stall()

	c, sid := rig.call(t, "+15555550123")
	// The first event blocks the slow viewer's writer, two fill its
	// queue, and the next one drops it, all before the call ends.
	poll.Wait(t, "the slow viewer to be dropped", func() bool { return counterValue(t, srv.Metrics.DroppedSubs) == 1 })
	if c.Closed() {
		t.Fatal("the call ended before the slow viewer was dropped")
	}
	front.resume()
	// The event that was in flight arrives, then a "try again later"
	// close; what was left in the queue is stale and not sent.
	seen, code := readUntilClose(t, slow)
	if code != 1013 {
		t.Fatalf("slow viewer close code = %d, want 1013", code)
	}
	if fmt.Sprint(seen) != fmt.Sprint([]string{events.CallReceived}) {
		t.Fatalf("slow viewer got %v before its close, want the one event in flight", seen)
	}
	poll.Wait(t, "the close to be counted", func() bool {
		return counterValue(t, srv.Metrics.WebSocketCloses.WithLabelValues("logs", "slow")) == 1
	})

	// The call is unaffected: the caller hears the greeting, speaks, and
	// hears the agent's answer.
	greeted(t, c)
	before := c.ReceivedBytes()
	if err := c.SendSpeech(25); err != nil {
		t.Fatal(err)
	}
	if err := c.SendSilence(40); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitFor(ctxFor(t), func() bool { return c.ReceivedBytes() > before }); err != nil {
		t.Fatal("the agent never answered the caller")
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	poll.Wait(t, "both viewers to see the call end", func() bool {
		a, _ := fast[0].call(sid)
		b, _ := fast[1].call(sid)
		return len(a) > 0 && a[len(a)-1] == events.CallEnded && len(b) > 0 && b[len(b)-1] == events.CallEnded
	})

	want := all.call(sid)
	for i, v := range fast {
		types, lines := v.call(sid)
		if fmt.Sprint(types) != fmt.Sprint(want) {
			t.Fatalf("viewer %d saw the call as\n%v\nwant every event in order:\n%v", i, types, want)
		}
		if text := strings.Join(lines, " "); !strings.Contains(text, "example voice agent") || !strings.Contains(text, "Assistant response 2.") {
			t.Fatalf("viewer %d transcript lines = %q, want the greeting and the answer", i, lines)
		}
	}
	first := []string{events.CallReceived, events.CallAccepted, events.StreamStarted}
	if len(want) < 6 || fmt.Sprint(want[:3]) != fmt.Sprint(first) {
		t.Fatalf("call events = %v, want %v first", want, first)
	}
	if got := counterValue(t, srv.Metrics.DroppedSubs); got != 1 {
		t.Fatalf("dropped subscribers = %v, want 1 (a fast viewer was dropped too)", got)
	}
	t.Logf("the call published %d events; the slow viewer was dropped at the fourth", len(want))
}

// readUntilClose reads a viewer's events until the server closes the
// socket and returns their types and the close code.
func readUntilClose(t *testing.T, conn *websocket.Conn) ([]string, int) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	var types []string
	for {
		_, b, err := conn.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return types, ce.Code
		}
		if err != nil {
			t.Fatalf("socket ended without a close frame: %v", err)
		}
		var m wireMsg
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("message %q is not JSON: %v", b, err)
		}
		types = append(types, m.Type)
	}
}

// TestLogsAcrossInstances: two servers on one PostgreSQL database; a
// viewer on the second sees, in order, a call published on the first.
func TestLogsAcrossInstances(t *testing.T) {
	dbA, url := storetest.PostgresURL(t)
	dbB, err := store.Open(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbB.Close() })
	srvA := apptest.New(t, apptest.Options{DB: dbA})
	srvB := apptest.New(t, apptest.Options{DB: dbB})

	onB := dialLogs(t, srvB)
	// A transcript line larger than a NOTIFY payload travels by reference.
	long := strings.Repeat("a very long answer ", 600)
	call := simulatedCall(sidOne, 0, "hello from instance A", 3)
	call = append(call[:4], append([]events.Event{{Type: events.TranscriptLine, CallSID: sidOne, Data: map[string]any{"role": "agent", "text": long}}}, call[4:]...)...)
	for i := range call {
		call[i].Data = withSeq(call[i].Data, i)
		srvA.Bus.Publish(call[i])
	}
	for i, want := range call {
		m := readMsg(t, onB)
		if m.Type != want.Type || m.CallSID != sidOne || m.Data["seq"] != float64(i) {
			t.Fatalf("event %d on B = %s %s seq %v, want %s seq %d", i, m.Type, m.CallSID, m.Data["seq"], want.Type, i)
		}
		if want.Data["text"] == long && m.Data["text"] != long {
			t.Fatal("the large transcript line arrived altered")
		}
		if m.Type == events.CallReceived && m.Data["from"] == "+14155550123" {
			t.Fatal("the caller's number reached instance B's viewer unmasked")
		}
	}
	// B's own events are not repeated back to it through NOTIFY: the next
	// thing B's viewer sees after B publishes is that event, once.
	srvB.Bus.Publish(events.Event{Type: events.Error, CallSID: sidTwo, Data: map[string]any{"message": "on B"}})
	srvA.Bus.Publish(events.Event{Type: events.CallEnded, CallSID: sidTwo})
	if m := readMsg(t, onB); m.Type != events.Error {
		t.Fatalf("B's viewer got %+v, want B's own error first", m)
	}
	if m := readMsg(t, onB); m.Type != events.CallEnded || m.CallSID != sidTwo {
		t.Fatalf("B's viewer got %+v, want A's call.ended (a duplicate?)", m)
	}
}
