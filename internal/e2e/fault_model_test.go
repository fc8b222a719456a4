package e2e

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/poll"
)

// hungUpWithApology waits for the server to end callSID through Twilio
// REST with TwiML that says something and hangs up, and returns what it
// said.
func (r *rig) hungUpWithApology(ctx context.Context, t *testing.T, callSID string) string {
	t.Helper()
	var said string
	err := poll.Until(ctx, func() bool {
		for _, u := range r.rest.Requests(fake.OpUpdateCall) {
			if !strings.Contains(u.Path, callSID) {
				continue
			}
			var doc struct {
				Say    []string   `xml:"Say"`
				Hangup []struct{} `xml:"Hangup"`
			}
			if xml.Unmarshal([]byte(u.Form.Get("Twiml")), &doc) == nil && len(doc.Say) > 0 && len(doc.Hangup) > 0 {
				said = strings.Join(doc.Say, " ")
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("the call was not ended with an apology through Twilio REST (%d call updates): %v", len(r.rest.Requests(fake.OpUpdateCall)), err)
	}
	return said
}

// streamEnded waits for the media stream to be closed by the server and
// checks the close code.
func streamEnded(ctx context.Context, t *testing.T, c *fake.MediaClient, want int) {
	t.Helper()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the server kept the media stream open")
	}
	if got := c.CloseCode(); got != want {
		t.Fatalf("stream close code = %d, want %d", got, want)
	}
}

func noPanic(t *testing.T, r *rig) {
	t.Helper()
	if strings.Contains(strings.ToLower(r.logs.String()), "panic") {
		t.Fatal("the server log mentions a panic")
	}
}

// modelFault runs a call to the greeting, applies fault to its model
// session, and checks the call ends politely and cleanly.
func modelFault(t *testing.T, fault func(*fake.RealtimeSession)) {
	r := newRig(t, rigOptions{})
	ctx := ctxFor(t, 30*time.Second)
	a, c := r.call(ctx, t, "+15555550111", fake.MediaOptions{})
	sess, err := r.rt.WaitSession(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendSilence(5); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitFor(ctx, func() bool { return c.ReceivedBytes() > 0 }); err != nil {
		t.Fatalf("no greeting: %v", err)
	}
	fault(sess)
	said := r.hungUpWithApology(ctx, t, a.CallSID())
	if !strings.Contains(strings.ToLower(said), "sorry") {
		t.Errorf("the caller heard %q, want an apology", said)
	}
	streamEnded(ctx, t, c, websocket.CloseTryAgainLater)
	if err := poll.Until(ctx, func() bool { return r.rt.OpenSessions() == 0 }); err != nil {
		t.Fatal("a model session stayed open")
	}
	noPanic(t, r)
}

// TestModelDropsMidCall: the Realtime server vanishes mid-call (TCP drop,
// no close frame). The caller is told and the call ends cleanly.
func TestModelDropsMidCall(t *testing.T) {
	modelFault(t, (*fake.RealtimeSession).CloseAbruptly)
}

// TestModelSessionExpired: the Realtime server sends session_expired and
// closes. The caller is told and the call ends cleanly.
func TestModelSessionExpired(t *testing.T) {
	modelFault(t, (*fake.RealtimeSession).Expire)
}

// TestModelUnreachableAtAccept: no Realtime server listens. The call is
// still answered, the caller hears a short apology and the call ends.
func TestModelUnreachableAtAccept(t *testing.T) {
	r := newRig(t, rigOptions{NoRealtime: true})
	ctx := ctxFor(t, 30*time.Second)
	a, c := r.call(ctx, t, "+15555550112", fake.MediaOptions{})
	_ = c.SendSilence(3)
	said := r.hungUpWithApology(ctx, t, a.CallSID())
	if !strings.Contains(strings.ToLower(said), "sorry") || len(said) > 200 {
		t.Errorf("the caller heard %q, want a short apology", said)
	}
	streamEnded(ctx, t, c, websocket.CloseTryAgainLater)
	noPanic(t, r)
}
