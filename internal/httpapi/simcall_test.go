package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/app"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/store"
)

// The agent's greeting in simulated calls: the fake model speaks it, the
// relay publishes it as a transcript line.
const greeting = "Hello, you are speaking with the example voice agent."

// liveRig is the real wired server with a fake Realtime model and a fake
// Twilio REST API, for tests that watch simulated calls.
type liveRig struct {
	srv  *apptest.Server
	rt   *fake.Realtime
	rest *fake.TwilioREST
}

func newLiveRig(t *testing.T, db *store.DB, env map[string]string) *liveRig {
	t.Helper()
	rt := fake.NewRealtime(fake.RealtimeOptions{Responses: []fake.ScriptedResponse{{Transcript: greeting}}, InputTokens: 120, OutputTokens: 30})
	t.Cleanup(rt.Close)
	rest := fake.NewTwilioREST(apptest.AccountSID, apptest.AccountSID, apptest.AuthToken)
	t.Cleanup(rest.Close)
	e := map[string]string{
		"REALTIME_URL":           rt.URL(),
		"TWILIO_PHONE_NUMBER":    "+15005550001",
		"TWILIO_OUTBOUND_NUMBER": "+15005550002",
	}
	for k, v := range env {
		e[k] = v
	}
	srv := apptest.New(t, apptest.Options{DB: db, Env: e, App: app.Options{TwilioHTTPClient: rest.HTTPClient()}})
	return &liveRig{srv: srv, rt: rt, rest: rest}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// webhook posts a signed Twilio webhook and returns the TwiML.
func (r *liveRig) webhook(t *testing.T, path string, params url.Values) []byte {
	t.Helper()
	req, err := fake.SignedRequest(ctxFor(t), http.MethodPost, r.srv.URL, apptest.PublicURL, path, apptest.AuthToken, params)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := doReq(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s = %d %s", path, resp.StatusCode, body)
	}
	return body
}

// call places a call from caller the way Twilio does (incoming, accept,
// signed media stream) and returns the open stream and the CallSid.
func (r *liveRig) call(t *testing.T, caller string) (*fake.MediaClient, string) {
	t.Helper()
	params := fake.DefaultCallParams(caller, "+15005550001")
	params.Set("AccountSid", apptest.AccountSID)
	r.webhook(t, "/voice/incoming", params)
	streamURL, _, err := fake.ParseStreamTwiML(r.webhook(t, "/voice/accept", params))
	if err != nil {
		t.Fatalf("/voice/accept: %v", err)
	}
	public := strings.TrimPrefix(apptest.PublicURL, "https://")
	local := "ws" + strings.TrimPrefix(r.srv.URL, "http") + strings.TrimPrefix(streamURL, "wss://"+public)
	c, err := fake.DialMedia(ctxFor(t), local, fake.MediaOptions{
		AuthToken: apptest.AuthToken, SignURL: streamURL,
		CallSid: params.Get("CallSid"), AccountSid: apptest.AccountSID,
		RealTime: true, // received audio plays (and marks echo) by the wall clock
	})
	if err != nil {
		t.Fatalf("open media stream: %v", err)
	}
	t.Cleanup(func() {
		if !c.Closed() {
			c.Drop()
		}
	})
	return c, params.Get("CallSid")
}

// greeted waits until the caller has heard the whole greeting.
func greeted(t *testing.T, c *fake.MediaClient) {
	t.Helper()
	if err := c.WaitFor(ctxFor(t), func() bool { return len(c.MarksReceived()) > 0 && c.PendingMarks() == 0 }); err != nil {
		t.Fatal("the greeting never reached the caller")
	}
}
