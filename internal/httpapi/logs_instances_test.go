package httpapi_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/poll"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// TestLogsRealCallAcrossInstances: two servers on one PostgreSQL
// database, and a viewer on the second sees the call the first handles.
// The two servers are two app instances in this test process, each with
// its own connection pool and its own LISTEN connection: to the database,
// and to the events between them, that is what two server processes are.
// The call is real: signed webhooks, the media stream and the fake
// Realtime model, all on instance A. Twilio's final status callback
// lands on instance B, after A's relay has ended the call: the end is
// announced once.
func TestLogsRealCallAcrossInstances(t *testing.T) {
	dbA, url := storetest.PostgresURL(t)
	dbB, err := store.Open(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbB.Close() })
	rigA := newLiveRig(t, dbA, nil)
	rigB := &liveRig{srv: apptest.New(t, apptest.Options{DB: dbB})}
	onA := collect(dialLogs(t, rigA.srv))
	onB := collect(dialLogs(t, rigB.srv))

	const caller = "+15555550123"
	c, sid := rigA.call(t, caller)
	greeted(t, c)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	ended := func(v *collector) bool { types, _ := v.call(sid); return slices.Contains(types, events.CallEnded) }
	poll.Wait(t, "B's viewer to see the call end", func() bool { return ended(onB) })
	poll.Wait(t, "A's viewer to see the call end", func() bool { return ended(onA) })
	rigB.statusCallback(t, sid, "completed", 2, 5)
	settle(t, rigB.srv, onB)

	types, lines := onB.call(sid)
	wantA, _ := onA.call(sid)
	if fmt.Sprint(types) != fmt.Sprint(wantA) {
		t.Fatalf("B's viewer saw the call as\n%v\nA's viewer saw\n%v", types, wantA)
	}
	// call.received, stream.started, a transcript line and call.ended, in
	// that order, the end once.
	at := func(typ string) int { return slices.Index(types, typ) }
	received, started, line, end := at(events.CallReceived), at(events.StreamStarted), at(events.TranscriptLine), at(events.CallEnded)
	if received != 0 || started <= received || line <= started || end != len(types)-1 {
		t.Fatalf("B's viewer saw %v, want call.received, stream.started, a transcript line and call.ended in order", types)
	}
	if n := len(onB.endsOf(sid)); n != 1 {
		t.Fatalf("call.ended on B = %d times, want once", n)
	}
	if !strings.Contains(strings.Join(lines, " "), "example voice agent") {
		t.Fatalf("B's transcript lines = %q, want the greeting", lines)
	}
	onB.mu.Lock()
	defer onB.mu.Unlock()
	for _, m := range onB.msgs {
		if m.Type == events.CallReceived && m.CallSID == sid {
			if from, _ := m.Data["from"].(string); from == caller || !strings.HasSuffix(from, "23") {
				t.Fatalf("B's viewer got the caller as %q, want it masked", from)
			}
		}
	}
}
