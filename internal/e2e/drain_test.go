package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/app"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/poll"
	"github.com/voiceagent/voiceagent/internal/sim"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// TestShutdownWith100LiveCalls is SIGTERM (the cancelled context of
// App.Serve, exactly what `voiceagent serve` gets) with 100 simulated
// calls streaming: /ready turns 503 and new callers get busy at once, no
// live call is cut before SHUTDOWN_DRAIN_TIMEOUT, calls that hang up end
// normally, the rest are told and closed after the timeout, every model
// session is closed and Serve returns cleanly (exit status 0).
func TestShutdownWith100LiveCalls(t *testing.T) {
	const calls, drain = 100, 4 * time.Second
	rt := fake.NewRealtime(fake.RealtimeOptions{})
	t.Cleanup(rt.Close)
	rest := fake.NewTwilioREST(apptest.AccountSID, apptest.AccountSID, apptest.AuthToken)
	t.Cleanup(rest.Close)
	env := apptest.Env()
	for k, v := range map[string]string{
		"REALTIME_URL": rt.URL(), "TWILIO_PHONE_NUMBER": sim.ServiceNumber, "MAX_CONCURRENT_CALLS": "500",
		"CALLS_PER_MINUTE": "10000", "SHUTDOWN_DRAIN_TIMEOUT": drain.String(), "LOG_LEVEL": "info",
	} {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	logs := &apptest.LogBuffer{}
	a, err := app.New(context.Background(), cfg, logging.New(logs, "json", "info"), storetest.SQLite(t), app.Options{TwilioHTTPClient: rest.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sigterm, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- a.Serve(sigterm, ln) }()
	closed := false
	defer func() {
		if !closed {
			a.Close()
		}
	}()
	target := sim.Target{BaseURL: "http://" + ln.Addr().String(), PublicURL: apptest.PublicURL, AuthToken: apptest.AuthToken,
		AccountSID: apptest.AccountSID, Bearer: apptest.Bearer, CalledNumber: sim.ServiceNumber, HTTP: sim.NewHTTPClient(calls)}
	ctx := ctxFor(t, 2*time.Minute)

	clients := make([]*fake.MediaClient, calls)
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at, err := target.Place(ctx, fmt.Sprintf("+1555555%04d", 3000+i), sim.ServiceNumber)
			if err == nil && at.Decision() != "stream" {
				err = fmt.Errorf("answered %s", at.Decision())
			}
			if err != nil {
				errs <- err
				return
			}
			c, err := target.Connect(ctx, at, fake.MediaOptions{})
			if err != nil {
				errs <- err
				return
			}
			clients[i] = c
			if err := c.SendSilence(3); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("setting up a live call: %v", err)
	}
	if err := poll.Until(ctx, func() bool { return a.Relay.Live() == calls }); err != nil {
		t.Fatalf("%d of %d calls live", a.Relay.Live(), calls)
	}

	start := time.Now()
	cancel() // SIGTERM
	if err := poll.Until(ctx, func() bool { return a.Server.Draining() }); err != nil {
		t.Fatal("the server did not start draining")
	}
	resp, err := http.Get(target.BaseURL + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/ready while draining = %d, want 503", resp.StatusCode)
	}
	late, err := target.Place(ctx, "+15555550114", sim.ServiceNumber)
	if err != nil {
		t.Fatalf("a new call while draining: %v", err)
	}
	if late.Decision() != "busy" {
		t.Errorf("a new call while draining was answered %q, want busy", late.Decision())
	}
	// Half the callers hang up during the drain; their calls end normally.
	for _, c := range clients[:calls/2] {
		if err := c.SendSilence(2); err != nil {
			t.Errorf("a live call could not stream during the drain: %v", err)
		}
		_ = c.Stop()
	}
	// The other half is never cut before the drain timeout.
	for i, c := range clients[calls/2:] {
		select {
		case <-c.Done():
			if time.Since(start) < drain-200*time.Millisecond {
				t.Fatalf("live call %d was cut %s after SIGTERM, before the %s drain timeout", i, time.Since(start), drain)
			}
		case <-time.After(time.Until(start.Add(drain - 200*time.Millisecond))):
		}
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve returned %v, want nil (exit status 0)", err)
		}
	case <-time.After(drain + 20*time.Second):
		t.Fatal("Serve did not return after the drain timeout")
	}
	a.Close() // what serve does next: ends the calls still live
	closed = true
	for i, c := range clients[calls/2:] {
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("call %d still open after shutdown", i)
		}
		if got := c.CloseCode(); got != websocket.CloseGoingAway {
			t.Errorf("call %d closed with %d, want %d (going away)", i, got, websocket.CloseGoingAway)
		}
	}
	if err := poll.Until(ctx, func() bool { return rt.OpenSessions() == 0 }); err != nil {
		t.Fatalf("%d model sessions left open", rt.OpenSessions())
	}
	apptest.AssertNoLeaks(t, "server log", logs.String(), cfg, "+15555550114")
}
