package load

import (
	"context"
	"github.com/voiceagent/voiceagent/internal/sim"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The relay floor carries a load run end to end: every call connects,
// every probe frame arrives both ways (one media plus one mark per model
// delta), and every model session is closed after the callers hang up.
func TestFloorCarriesALoadRun(t *testing.T) {
	gen, err := NewLoad(LoadOptions{Calls: 3, Duration: time.Second, Ramp: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- ServeFloor(ctx, ln, FloorOptions{RealtimeURL: gen.RealtimeURL(), APIKey: "sk-test-floor", PublicURL: "https://voice.example.test"})
	}()
	target := sim.Target{BaseURL: "http://" + ln.Addr().String(), PublicURL: "https://voice.example.test", AuthToken: "floor-test-token"}
	rctx, rcancel := context.WithTimeout(ctx, 60*time.Second)
	defer rcancel()
	if err := target.WaitReady(rctx); err != nil {
		t.Fatal(err)
	}
	rep, err := gen.Run(rctx, target, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Connected != 3 || rep.Up.Lost != 0 || rep.Down.Lost != 0 || rep.SessionsLeft != 0 {
		t.Fatalf("floor run: connected %d, lost %d up / %d down, sessions left %d", rep.Connected, rep.Up.Lost, rep.Down.Lost, rep.SessionsLeft)
	}
	if rep.Up.Received == 0 || rep.Down.Received == 0 {
		t.Fatalf("no frames carried: %d up, %d down", rep.Up.Received, rep.Down.Received)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("ServeFloor = %v", err)
	}
}

// The floor child needs its port and the model's address.
func TestFloorFromEnv(t *testing.T) {
	if _, _, err := FloorFromEnv(func(string) string { return "" }); err == nil {
		t.Fatal("FloorFromEnv accepted an empty environment")
	}
	env := map[string]string{"PORT": "8080", "REALTIME_URL": "ws://127.0.0.1:9/v1/realtime"}
	port, o, err := FloorFromEnv(func(k string) string { return env[k] })
	if err != nil || port != "8080" || o.RealtimeURL != env["REALTIME_URL"] {
		t.Fatalf("FloorFromEnv = %q, %+v, %v", port, o, err)
	}
}

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
