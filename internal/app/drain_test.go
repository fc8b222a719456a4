package app_test

import (
	"context"
	"go.uber.org/goleak"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/poll"
)

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDrainRefusesNewWorkAndWaitsForOpenWork drives the drain mechanism
// the SIGTERM path uses: /ready turns 503 at once, new API work is refused,
// liveness stays up, and Drain returns only when open work is done.
func TestDrainRefusesNewWorkAndWaitsForOpenWork(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	release := make(chan struct{})
	srv.Server.OnDrain(func(ctx context.Context) {
		select {
		case <-release:
		case <-ctx.Done():
		}
	})
	if code, _ := get(t, srv.URL+"/api/whoami", apptest.Bearer); code != 200 {
		t.Fatalf("before drain: %d", code)
	}
	drained := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Server.Drain(ctx)
		close(drained)
	}()
	poll.Wait(t, "the server to start draining", srv.Server.Draining)
	if code, body := get(t, srv.URL+"/ready", apptest.Bearer); code != 503 || !strings.Contains(body, "draining") {
		t.Fatalf("/ready while draining = %d %s", code, body)
	}
	if code, body := get(t, srv.URL+"/api/whoami", apptest.Bearer); code != 503 || !strings.Contains(body, "shutting down") {
		t.Fatalf("/api while draining = %d %s", code, body)
	}
	if code, _ := get(t, srv.URL+"/health", ""); code != 200 {
		t.Fatalf("/health while draining = %d", code)
	}
	select {
	case <-drained:
		t.Fatal("Drain returned while work was still open")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("Drain did not return after the work finished")
	}
}

// TestDrainGivesUpAtTheDeadline: work that never finishes cannot hold the
// process past SHUTDOWN_DRAIN_TIMEOUT.
func TestDrainGivesUpAtTheDeadline(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	srv.Server.OnDrain(func(ctx context.Context) { <-ctx.Done() })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { srv.Server.Drain(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Drain ignored its deadline")
	}
}

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
