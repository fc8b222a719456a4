package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/app"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/httpapi"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/metrics"
	"github.com/voiceagent/voiceagent/internal/relay"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// memTokens stands in for the inbound-calls service's one-time tokens.
type memTokens struct {
	mu     sync.Mutex
	tokens map[string]string // token -> CallSid
	used   map[string]bool
	noSlot map[string]bool // CallSids that hold no capacity slot
}

// ClaimStreamSlot implements httpapi.StreamSlots.
func (m *memTokens) ClaimStreamSlot(_ context.Context, callSID string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.noSlot[callSID], nil
}

func (m *memTokens) RedeemStreamToken(_ context.Context, token string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sid, ok := m.tokens[token]
	switch {
	case !ok:
		return "", apperr.New(apperr.NotFound, "unknown stream token")
	case m.used[token]:
		return "", apperr.New(apperr.Conflict, "stream token already used")
	}
	m.used[token] = true
	return sid, nil
}

type mediaServer struct {
	url    string
	db     *store.DB
	audit  *audit.Recorder
	tokens *memTokens
	logs   *apptest.LogBuffer
}

// newMediaServer runs the real router and middleware with the relay wired
// to a fake Realtime server.
func newMediaServer(t *testing.T, env map[string]string) *mediaServer {
	t.Helper()
	rt := fake.NewRealtime(fake.RealtimeOptions{})
	t.Cleanup(rt.Close)
	e := apptest.Env()
	e["REALTIME_URL"] = rt.URL()
	for k, v := range env {
		e[k] = v
	}
	cfg, err := config.Load(func(k string) string { return e[k] })
	if err != nil {
		t.Fatal(err)
	}
	logs := &apptest.LogBuffer{}
	log := logging.New(logs, "json", "debug")
	db := storetest.SQLite(t)
	rec := audit.NewRecorder(db.Audit(), log)
	m := metrics.New(nil)
	rl := relay.New(relay.Deps{Log: log, Metrics: m, Audit: rec}, app.RelaySettings(cfg))
	tokens := &memTokens{tokens: map[string]string{}, used: map[string]bool{}, noSlot: map[string]bool{}}
	srv := httpapi.New(httpapi.Deps{Log: log, DB: db, Audit: rec, Metrics: m, Relay: rl, StreamTokens: tokens}, app.HTTPSettings(cfg))
	hs := httptest.NewUnstartedServer(srv)
	hs.Config = srv.HTTPServer()
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		rl.Close()
		rec.Close()
	})
	return &mediaServer{url: hs.URL, db: db, audit: rec, tokens: tokens, logs: logs}
}

func (s *mediaServer) issue(token, callSID string) {
	s.tokens.mu.Lock()
	defer s.tokens.mu.Unlock()
	s.tokens.tokens[token] = callSID
}

// dial connects like Twilio: signed over the public wss:// URL.
func (s *mediaServer) dial(t *testing.T, path string, o fake.MediaOptions) (*fake.MediaClient, error) {
	t.Helper()
	if o.SignURL == "" {
		o.SignURL = "wss://voice.example.test" + path
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := fake.DialMedia(ctx, "ws"+strings.TrimPrefix(s.url, "http")+path, o)
	if err == nil {
		t.Cleanup(c.Drop)
	}
	return c, err
}

func statusOf(err error) int {
	var se *fake.StatusError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}

const goodToken = "tok_0123456789abcdefABCDEF"

func TestMediaStreamUpgradeRefused(t *testing.T) {
	s := newMediaServer(t, nil)
	callSID := fake.NewSid("CA")
	s.issue(goodToken, callSID)
	cases := []struct {
		name   string
		path   string
		opts   fake.MediaOptions
		status int
	}{
		{"no signature", "/media-stream/" + goodToken, fake.MediaOptions{CallSid: callSID}, http.StatusUnauthorized},
		{"signed with another token", "/media-stream/" + goodToken, fake.MediaOptions{CallSid: callSID, AuthToken: "0000000000000000000000000000beef"}, http.StatusForbidden},
		{"signed for another path", "/media-stream/" + goodToken, fake.MediaOptions{CallSid: callSID, AuthToken: apptest.AuthToken, SignURL: "wss://voice.example.test/media-stream/other0123456789abcdef"}, http.StatusForbidden},
		{"no token", "/media-stream/x", fake.MediaOptions{AuthToken: apptest.AuthToken}, http.StatusUnauthorized},
		{"unknown token", "/media-stream/tok_unknown_0123456789abcdef", fake.MediaOptions{AuthToken: apptest.AuthToken}, http.StatusForbidden},
		{"browser origin", "/call/" + goodToken, fake.MediaOptions{AuthToken: apptest.AuthToken, Header: http.Header{"Origin": {"https://evil.example"}}}, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.dial(t, tc.path, tc.opts)
			if got := statusOf(err); got != tc.status {
				t.Fatalf("upgrade = %d (%v), want %d", got, err, tc.status)
			}
		})
	}
	// Every refusal is audited, without the token.
	ctx := context.Background()
	s.audit.Flush(ctx)
	evs, err := s.db.Audit().ListAuditEvents(ctx, audit.Filter{Type: audit.TypeAuthFailure, Until: time.Now().Add(time.Hour), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	// Aggregated: one row per (client IP, reason) written at once; the
	// second bad_signature is counted into the next row of its key.
	if len(evs) != len(cases)-1 {
		t.Fatalf("audit rows = %d, want %d", len(evs), len(cases)-1)
	}
	for _, ev := range evs {
		if ev.Detail["surface"] != "media" || strings.Contains(ev.Detail["path"].(string), "tok_") {
			t.Fatalf("audit row %+v", ev)
		}
	}
	// None of the refusals used the token up: the real stream still works.
	c, err := s.dial(t, "/media-stream/"+goodToken, fake.MediaOptions{CallSid: callSID, AuthToken: apptest.AuthToken})
	if err != nil {
		t.Fatalf("signed upgrade with a fresh token: %v", err)
	}
	c.Close()
	// Only the authenticated attempt is a connection_attempt row (an
	// unauthenticated client cannot make us write one), the token hidden.
	s.audit.Flush(ctx)
	attempts, err := s.db.Audit().ListAuditEvents(ctx, audit.Filter{Type: audit.TypeConnectionAttempt, Until: time.Now().Add(time.Hour), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) != 1 || attempts[0].CallSID != callSID {
		t.Fatalf("connection_attempt rows = %+v, want the one of the accepted stream", attempts)
	}
	for _, ev := range attempts {
		if ev.Detail["surface"] != "media" || strings.Contains(ev.Detail["path"].(string), "tok_") || strings.Contains(ev.Detail["path"].(string), goodToken) {
			t.Fatalf("connection_attempt row %+v", ev)
		}
	}
	// The access-log line is written when the call has ended; the repeated
	// bad_signature refusal has none (sampled with its audit row).
	waitCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for strings.Count(s.logs.String(), `"msg":"http"`) < len(cases) {
		select {
		case <-waitCtx.Done():
			t.Fatalf("no access-log line for the stream: %s", s.logs.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if strings.Contains(s.logs.String(), goodToken) {
		t.Fatal("the stream token reached a log line")
	}
}

func TestMediaStreamTokenIsSingleUse(t *testing.T) {
	s := newMediaServer(t, nil)
	callSID := fake.NewSid("CA")
	s.issue(goodToken, callSID)
	c, err := s.dial(t, "/media-stream/"+goodToken, fake.MediaOptions{CallSid: callSID, AuthToken: apptest.AuthToken})
	if err != nil {
		t.Fatalf("first upgrade: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitFor(ctx, func() bool { return c.ReceivedBytes() > 0 }); err != nil {
		t.Fatal("no agent audio on an accepted stream")
	}
	_, err = s.dial(t, "/media-stream/"+goodToken, fake.MediaOptions{CallSid: callSID, AuthToken: apptest.AuthToken})
	if got := statusOf(err); got != http.StatusForbidden {
		t.Fatalf("second use = %d (%v), want 403", got, err)
	}
}

func TestMediaStreamWithoutValidation(t *testing.T) {
	s := newMediaServer(t, map[string]string{"TWILIO_VALIDATE": "false"})
	callSID := fake.NewSid("CA")
	s.issue(goodToken, callSID)
	// The token is still required...
	if _, err := s.dial(t, "/media-stream/tok_unknown_0123456789abcdef", fake.MediaOptions{}); statusOf(err) != http.StatusForbidden {
		t.Fatalf("unknown token without validation = %v, want 403", err)
	}
	// ... the signature is not.
	if _, err := s.dial(t, "/media-stream/"+goodToken, fake.MediaOptions{CallSid: callSID}); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
}

func TestMediaStreamAgentOff(t *testing.T) {
	s := newMediaServer(t, map[string]string{"OPENAI_API_KEY": ""})
	s.issue(goodToken, fake.NewSid("CA"))
	if _, err := s.dial(t, "/media-stream/"+goodToken, fake.MediaOptions{AuthToken: apptest.AuthToken}); statusOf(err) != http.StatusServiceUnavailable {
		t.Fatalf("upgrade with the agent off = %v, want 503", err)
	}
}

// Finding 5: a stream whose call holds no capacity slot (and cannot get
// one under the cap) is refused before the upgrade; no call runs.
func TestMediaStreamRefusedWithoutSlot(t *testing.T) {
	s := newMediaServer(t, nil)
	const callSID = "CA00000000000000000000000000000055"
	s.issue(goodToken, callSID)
	s.tokens.mu.Lock()
	s.tokens.noSlot[callSID] = true
	s.tokens.mu.Unlock()
	_, err := s.dial(t, "/media-stream/"+goodToken, fake.MediaOptions{CallSid: callSID, AuthToken: apptest.AuthToken})
	if got := statusOf(err); got != http.StatusServiceUnavailable {
		t.Fatalf("upgrade without a slot = %d (%v), want 503", got, err)
	}
}

// TestMediaStreamNotAnUpgradeIsJSON: a signed request with a valid token
// that is not a WebSocket handshake is refused by the upgrader, and the
// refusal has the API's error shape (it was gorilla's plain-text body).
func TestMediaStreamNotAnUpgradeIsJSON(t *testing.T) {
	s := newMediaServer(t, nil)
	s.issue(goodToken, fake.NewSid("CA"))
	path := "/media-stream/" + goodToken
	req, err := http.NewRequest("GET", s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Twilio-Signature", fake.SignWebSocket(apptest.AuthToken, "wss://voice.example.test"+path))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || decodeError(t, body).Error.Code != "invalid" {
		t.Fatalf("plain GET with a valid token = %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q", ct)
	}
}
