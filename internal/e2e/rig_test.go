package e2e

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/app"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/sim"
	"github.com/voiceagent/voiceagent/internal/sim/scenario"
	"github.com/voiceagent/voiceagent/internal/store"
)

// rig is the real server wired with fakes at every network boundary, and
// a simulator target pointed at it. Every log line and every response
// body is captured.
type rig struct {
	srv    *apptest.Server
	rt     *fake.Realtime
	rest   *fake.TwilioREST
	logs   *apptest.LogBuffer
	bodies *bodyLog
	target sim.Target
	env    *scenario.Env
}

type rigOptions struct {
	Env      map[string]string
	Realtime fake.RealtimeOptions
	DB       *store.DB
	// NoRealtime points REALTIME_URL at a closed port.
	NoRealtime bool
	// APIBase reaches the fake Twilio REST API through
	// TWILIO_API_BASE_URL (its own address) instead of a rewriting HTTP
	// client, as a Twilio-compatible provider is reached.
	APIBase bool
	// Webhooks are the webhook dispatcher's seams.
	Webhooks app.WebhookOptions
}

// bodyLog keeps every response body the simulator saw.
type bodyLog struct {
	mu  sync.Mutex
	all bytes.Buffer // every body
	api bytes.Buffer // operator API error bodies (status >= 400)
}

func (b *bodyLog) observe(kind, path string, status int, body []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(&b.all, "%s %s %d %s\n", kind, path, status, body)
	if status >= 400 {
		fmt.Fprintf(&b.api, "%s %s %d %s\n", kind, path, status, body)
	}
}

func (b *bodyLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.all.String()
}

func (b *bodyLog) errors() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.api.String()
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	r := &rig{logs: &apptest.LogBuffer{}, bodies: &bodyLog{}}
	// Registered first so it runs last, after the server and the fakes
	// have stopped and logged everything.
	t.Cleanup(func() {
		if r.srv != nil {
			r.assertNoLeaks(t)
		}
	})
	r.rest = fake.NewTwilioREST(apptest.AccountSID, apptest.AccountSID, apptest.AuthToken)
	t.Cleanup(r.rest.Close)
	rtURL := "ws://127.0.0.1:1/v1/realtime"
	if !o.NoRealtime {
		r.rt = fake.NewRealtime(o.Realtime)
		t.Cleanup(r.rt.Close)
		rtURL = r.rt.URL()
	}
	env := map[string]string{
		"REALTIME_URL":           rtURL,
		"TWILIO_PHONE_NUMBER":    sim.ServiceNumber,
		"TWILIO_OUTBOUND_NUMBER": sim.OutboundNumber,
		"CALLS_PER_MINUTE":       "1000",
		"OUTBOUND_QUIET_HOURS":   "off", // tests that need them set them

		"LOG_LEVEL": "debug",
	}
	for k, v := range o.Env {
		env[k] = v
	}
	appOpts := app.Options{TwilioHTTPClient: r.rest.HTTPClient(), Webhooks: o.Webhooks}
	if o.APIBase {
		env["TWILIO_API_BASE_URL"] = r.rest.Server.URL
		appOpts.TwilioHTTPClient = nil
	}
	r.srv = apptest.New(t, apptest.Options{DB: o.DB, Env: env, Logs: r.logs, App: appOpts})
	r.rest.SetWebhookTarget(r.srv.URL, apptest.AuthToken)
	r.target = sim.Target{
		BaseURL:      r.srv.URL,
		PublicURL:    apptest.PublicURL,
		AuthToken:    apptest.AuthToken,
		AccountSID:   apptest.AccountSID,
		Bearer:       apptest.Bearer,
		CalledNumber: sim.ServiceNumber,
		HTTP:         sim.NewHTTPClient(128),
		Observe:      r.bodies.observe,
	}
	r.env = &scenario.Env{Target: r.target, Realtime: r.rt, REST: r.rest, Capacity: r.srv.Config.MaxConcurrentCalls, Timeout: 30 * time.Second}
	return r
}

// callerNumbers are every number the simulator and these tests use.
var callerNumbers = []string{
	"+15555550111", "+15555550112", "+15555550113", "+15555550114", "+15555550115",
	sim.BlockedNumber, sim.ContactNumber, "+15555552000", "+15555552001", sim.OutboundCallee, sim.OutboundMachineCallee,
}

// assertNoLeaks fails the test when a configured secret appears in any log
// line or response body, or a caller's number appears unmasked in a log
// line or an error body. (TwiML for Twilio carries the caller by design,
// and the contacts API returns contacts' numbers to the operator.)
func (r *rig) assertNoLeaks(t *testing.T, extra ...string) {
	t.Helper()
	cfg := r.srv.Config
	numbers := append(append([]string(nil), callerNumbers...), extra...)
	apptest.AssertNoLeaks(t, "server log", r.logs.String(), cfg, numbers...)
	apptest.AssertNoLeaks(t, "response bodies", r.bodies.String(), cfg)
	apptest.AssertNoLeaks(t, "error bodies", r.bodies.errors(), cfg, numbers...)
}

// call places a call from `from` and opens its stream.
func (r *rig) call(ctx context.Context, t *testing.T, from string, opts fake.MediaOptions) (*sim.Attempt, *fake.MediaClient) {
	t.Helper()
	a, err := r.target.Place(ctx, from, sim.ServiceNumber)
	if err != nil {
		t.Fatalf("place call: %v", err)
	}
	if a.Decision() != "stream" {
		t.Fatalf("call answered with %q, want a stream", a.Decision())
	}
	c, err := r.target.Connect(ctx, a, opts)
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	t.Cleanup(func() {
		if !c.Closed() {
			c.Drop()
		}
	})
	return a, c
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
