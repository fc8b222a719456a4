package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// collector reads a /logs socket in the background, keeping the sequence
// numbers of the events it sees.
type collector struct {
	mu   sync.Mutex
	seqs []int
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
			if seq, ok := m.Data["seq"].(float64); ok {
				c.seqs = append(c.seqs, int(seq))
			}
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

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seqs)
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

// TestLogsTwoViewersAndASlowOne: two viewers keep up and see every event
// in order; a third never reads, fills its queue and the kernel buffers,
// and is dropped (counted, closed with 1013) while publishing carries on;
// then a real simulated call runs and both viewers see all of it.
func TestLogsTwoViewersAndASlowOne(t *testing.T) {
	rig := newLiveRig(t, nil, nil)
	srv := rig.srv
	fast := []*collector{collect(dialLogs(t, srv)), collect(dialLogs(t, srv))}
	slow := dialLogs(t, srv) // never read until the end

	// Long transcript lines fill the slow socket's buffers quickly. The
	// publisher waits for the fast viewers after each call only so that
	// they (whose queues hold 256 events) are never the ones too slow.
	text := strings.Repeat("the agent explains the opening hours once more. ", 80)
	published := 0
	for call := 0; counterValue(t, srv.Metrics.DroppedSubs) == 0; call++ {
		if call == 400 {
			t.Fatal("the slow viewer was never dropped")
		}
		for _, ev := range simulatedCall(fmt.Sprintf("CA%032x", call+1), published, text, 40) {
			srv.Bus.Publish(ev)
			published++
		}
		want := published
		waitFor(t, "the fast viewers to catch up", func() bool { return fast[0].count() == want && fast[1].count() == want })
	}
	if got := counterValue(t, srv.Metrics.DroppedSubs); got != 1 {
		t.Fatalf("dropped subscribers = %v, want 1", got)
	}
	for i, c := range fast {
		c.mu.Lock()
		for j, seq := range c.seqs {
			if seq != j {
				c.mu.Unlock()
				t.Fatalf("fast viewer %d: event %d has seq %d (missing or out of order)", i, j, seq)
			}
		}
		c.mu.Unlock()
	}
	// Once it reads again, the slow viewer finds a "try again later"
	// close after what was already in flight.
	if code := expectClose(t, slow); code != 1013 {
		t.Fatalf("slow viewer close code = %d, want 1013", code)
	}
	waitFor(t, "the close to be counted", func() bool {
		return counterValue(t, srv.Metrics.WebSocketCloses.WithLabelValues("logs", "slow")) == 1
	})

	// A real call through the server: both viewers see its whole life in
	// the same order, the greeting included.
	c, sid := rig.call(t, "+15555550123")
	greeted(t, c)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both viewers to see the call end", func() bool {
		a, _ := fast[0].call(sid)
		b, _ := fast[1].call(sid)
		return len(a) > 0 && a[len(a)-1] == events.CallEnded && len(b) > 0 && b[len(b)-1] == events.CallEnded
	})
	typesA, linesA := fast[0].call(sid)
	typesB, _ := fast[1].call(sid)
	if fmt.Sprint(typesA) != fmt.Sprint(typesB) {
		t.Fatalf("viewers saw the call differently:\n%v\n%v", typesA, typesB)
	}
	want := []string{events.CallReceived, events.CallAccepted, events.StreamStarted}
	if len(typesA) < 5 || fmt.Sprint(typesA[:3]) != fmt.Sprint(want) {
		t.Fatalf("call events = %v, want %v first", typesA, want)
	}
	if len(linesA) == 0 || !strings.Contains(strings.Join(linesA, " "), "example voice agent") {
		t.Fatalf("transcript lines = %q, want the greeting", linesA)
	}
	t.Logf("published %d events (%d KB) before the slow viewer was dropped", published, published*len(text)/1024)
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
