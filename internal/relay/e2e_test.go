package relay_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/app"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// End-to-end through the real wired server: Twilio's signed webhooks, the
// one-time stream token, the media-stream upgrade, the relay, the fake
// Realtime model and the fake Twilio REST API.

const (
	serviceNumber  = "+15005550001"
	callerNumber   = "+15555550123"
	outboundNumber = "+15005550002"
	contactNumber  = "+14155550100"
)

type e2e struct {
	t    *testing.T
	srv  *apptest.Server
	rt   *fake.Realtime
	rest *fake.TwilioREST
	logs *apptest.LogBuffer
}

func newE2E(t *testing.T, rt fake.RealtimeOptions, db *store.DB) *e2e {
	t.Helper()
	e := &e2e{t: t, rt: fake.NewRealtime(rt), logs: &apptest.LogBuffer{}}
	t.Cleanup(e.rt.Close)
	e.rest = fake.NewTwilioREST(apptest.AccountSID, apptest.AccountSID, apptest.AuthToken)
	t.Cleanup(e.rest.Close)
	e.srv = apptest.New(t, apptest.Options{
		DB: db,
		Env: map[string]string{
			"REALTIME_URL":           e.rt.URL(),
			"TWILIO_PHONE_NUMBER":    serviceNumber,
			"TWILIO_OUTBOUND_NUMBER": outboundNumber,
			"LOG_LEVEL":              "debug",
		},
		Logs: e.logs,
		App:  app.Options{TwilioHTTPClient: e.rest.HTTPClient()},
	})
	return e
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// webhook posts a signed Twilio webhook and returns the TwiML body.
func (e *e2e) webhook(path string, params url.Values) []byte {
	e.t.Helper()
	req, err := fake.SignedRequest(timeout(e.t), http.MethodPost, e.srv.URL, apptest.PublicURL, path, apptest.AuthToken, params)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("%s = %d %s", path, resp.StatusCode, body)
	}
	return body
}

// call runs a call the way Twilio does: /voice/incoming, /voice/accept,
// then the WebSocket named by <Connect><Stream>, signed.
func (e *e2e) call() *fake.MediaClient {
	e.t.Helper()
	params := fake.DefaultCallParams(callerNumber, serviceNumber)
	params.Set("AccountSid", apptest.AccountSID)
	if _, _, err := fake.ParseStreamTwiML(e.webhook("/voice/incoming", params)); err == nil {
		e.t.Fatal("/voice/incoming streamed at once; it should gather first")
	}
	streamURL, _, err := fake.ParseStreamTwiML(e.webhook("/voice/accept", params))
	if err != nil {
		e.t.Fatalf("/voice/accept: %v", err)
	}
	public := strings.TrimPrefix(apptest.PublicURL, "https://")
	if !strings.HasPrefix(streamURL, "wss://"+public+"/media-stream/") {
		e.t.Fatalf("stream URL %q", streamURL)
	}
	local := "ws" + strings.TrimPrefix(e.srv.URL, "http") + strings.TrimPrefix(streamURL, "wss://"+public)
	c, err := fake.DialMedia(timeout(e.t), local, fake.MediaOptions{
		AuthToken: apptest.AuthToken, SignURL: streamURL,
		CallSid: params.Get("CallSid"), AccountSid: apptest.AccountSID,
	})
	if err != nil {
		e.t.Fatalf("open media stream: %v", err)
	}
	e.t.Cleanup(func() {
		if !c.Closed() {
			c.Drop()
		}
	})
	// The stream token is single use: Twilio's URL cannot be replayed.
	if _, err := fake.DialMedia(timeout(e.t), local, fake.MediaOptions{AuthToken: apptest.AuthToken, SignURL: streamURL}); err == nil {
		e.t.Fatal("the stream URL was accepted twice")
	}
	return c
}

func TestEndToEndAudio(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) { endToEndAudio(t, db) })
}

func endToEndAudio(t *testing.T, db *store.DB) {
	e := newE2E(t, fake.RealtimeOptions{ProbeAudio: true}, db)
	c := e.call()
	// /voice/accept pre-warmed the model session; the stream used it.
	s, err := e.rt.WaitSession(timeout(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitFor(timeout(t), func() bool { return len(c.MarksReceived()) == 5 }); err != nil {
		t.Fatal("the agent's greeting never reached the caller")
	}
	got := c.Received()
	for i := 0; i < len(got)/fake.FrameBytes; i++ {
		if seq, ok := fake.DecodeProbeFrame(got[i*fake.FrameBytes : (i+1)*fake.FrameBytes]); !ok || seq != uint32(i+1) {
			t.Fatalf("agent frame %d arrived altered", i)
		}
	}
	var sent [][]byte
	for i := range 25 {
		f := fake.EncodeProbeFrame(uint32(900 + i))
		sent = append(sent, f)
		if err := c.SendMedia(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WaitFor(timeout(t), func() bool { return s.AppendCount() >= len(sent) }); err != nil {
		t.Fatal("caller audio never reached the model")
	}
	for i, a := range s.Appended() {
		if !bytes.Equal(a, sent[i]) {
			t.Fatalf("caller frame %d altered on the way to the model", i)
		}
	}
	if n := len(e.rt.Sessions()); n != 1 {
		t.Fatalf("model sessions = %d, want the pre-warmed one", n)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitFor(timeout(t), s.Closed); err != nil {
		t.Fatal("model session not closed after stop")
	}
	apptest.AssertNoLeaks(t, "server log", e.logs.String(), e.srv.Config, callerNumber)
}

func TestEndToEndToolsDialAContact(t *testing.T) {
	e := newE2E(t, fake.RealtimeOptions{}, nil)
	// The operator saved a contact through the API.
	body := `{"name":"Alice Example","phoneNumber":"` + contactNumber + `","aliases":["alice"]}`
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/contacts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apptest.Bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("create contact = %d", resp.StatusCode)
	}

	// The caller asks for Alice: the model looks her up, then adds her.
	e.rt.NextResponseCallsTool("lookup_contact", `{"name":"alice"}`)
	e.rt.NextResponseCallsTool("add_to_conference", `{"contact_name":"alice"}`)
	c := e.call()
	s, err := e.rt.WaitSession(timeout(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitFor(timeout(t), func() bool { return len(s.FunctionOutputs()) == 2 }); err != nil {
		t.Fatalf("tool outputs = %+v", s.FunctionOutputs())
	}
	for i, fo := range s.FunctionOutputs() {
		if !strings.Contains(fo.Output, `"ok":true`) {
			t.Fatalf("tool %d output = %s", i, fo.Output)
		}
	}
	// Twilio was asked to move the caller into conf_<CallSid> and to dial
	// the contact's number in.
	updates, err := e.rest.WaitRequests(timeout(t), fake.OpUpdateCall, 1)
	if err != nil {
		t.Fatalf("no call update: %v", err)
	}
	if !strings.Contains(updates[0].Path, c.CallSid()) || !strings.Contains(updates[0].Form.Get("Twiml"), "conf_"+c.CallSid()) {
		t.Fatalf("call update = %+v", updates[0])
	}
	parts, err := e.rest.WaitRequests(timeout(t), fake.OpCreateParticipant, 1)
	if err != nil {
		t.Fatalf("no participant: %v", err)
	}
	if got := parts[0].Form.Get("To"); got != contactNumber {
		t.Fatalf("participant To = %q, want the contact's number", got)
	}
	apptest.AssertNoLeaks(t, "server log", e.logs.String(), e.srv.Config, callerNumber)
}
