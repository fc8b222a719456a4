package app_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/app"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

func TestServeIsBoundedByTheDrainTimeout(t *testing.T) {
	env := apptest.Env()
	env["SHUTDOWN_DRAIN_TIMEOUT"] = "300ms"
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, logging.Discard(), storetest.SQLite(t), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Server.OnDrain(func(ctx context.Context) { <-ctx.Done() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// An idle keep-alive connection that Shutdown must close.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- a.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	start := time.Now()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second || d < 250*time.Millisecond {
		t.Fatalf("Serve returned after %v, want about 300ms", d)
	}
}
