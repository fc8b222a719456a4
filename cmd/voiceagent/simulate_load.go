package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/sim"
	"github.com/voiceagent/voiceagent/internal/sim/load"
)

func newRealtimeOn(ln net.Listener) *fake.Realtime {
	return fake.NewRealtime(fake.RealtimeOptions{Listener: ln})
}

// loadServerEnv is the child server's environment for a load run: limits
// high enough that only the machine limits the run.
func loadServerEnv(creds sim.Credentials, realtimeURL string, extra []string) (map[string]string, error) {
	env := creds.Env(realtimeURL)
	env["MAX_CONCURRENT_CALLS"] = "100000"
	env["CALLS_PER_MINUTE"] = "1000000"
	env["LOG_LEVEL"] = "warn"
	env["LOG_FORMAT"] = "json"
	for _, kv := range extra {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Sprintf("--server-env %q: want KEY=VALUE", kv)}
		}
		env[k] = v
	}
	return env, nil
}

// runLoad is `simulate --load`, `--webhooks` and `--soak`: the flags pick
// one mode, each its own function.
func runLoad(ctx context.Context, f simFlags, getenv func(string) string, stdout io.Writer) error {
	switch {
	case f.soak:
		return runSoak(ctx, f, getenv, stdout)
	case f.load && !f.webhooks:
		return runCallLoad(ctx, f, getenv, stdout)
	default:
		return runWebhookLoad(ctx, f, getenv, stdout)
	}
}

// runCallLoad is `simulate --load`: calls streaming probe frames both ways
// through the server (or the relay floor) and its fake model.
func runCallLoad(ctx context.Context, f simFlags, getenv func(string) string, stdout io.Writer) error {
	opts := load.LoadOptions{Calls: f.calls, Duration: f.duration, Ramp: f.ramp,
		ModelAcceptDelay: f.acceptDly, ModelDelta: f.modelDelta, EarlyHangups: f.earlyHangups, Progress: stdout}
	ln, err := realtimeListener(f)
	if err != nil {
		return err
	}
	opts.RealtimeListener = ln
	gen, err := load.NewLoad(opts)
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return usageError{"simulate --load: " + err.Error()}
	}
	defer gen.Close()
	target, pid, stop, err := loadTarget(ctx, f, getenv, stdout, gen.RealtimeURL())
	if err != nil {
		return err
	}
	defer stop()
	rep, err := gen.Run(ctx, target, pid)
	if err != nil {
		return err
	}
	rep.Print(stdout)
	if err := writeJSON(f.jsonOut, rep); err != nil {
		return err
	}
	if rep.Connected < rep.Calls || rep.Up.Lost > 0 || rep.Down.Lost > 0 || rep.SessionsLeft > 0 {
		return errors.New("load run: calls failed, frames were lost or model sessions stayed open")
	}
	return nil
}

// runSoak is `simulate --soak`: calls churned for a long run while the
// server's goroutines, heap and RSS are sampled.
func runSoak(ctx context.Context, f simFlags, getenv func(string) string, stdout io.Writer) error {
	opts := fake.RealtimeOptions{Paced: true, ChunkBytes: fake.FrameBytes, DiscardAudio: true,
		Chunks: int(f.callLength/(20*time.Millisecond)) + 500}
	ln, err := realtimeListener(f)
	if err != nil {
		return err
	}
	opts.Listener = ln
	rt := fake.NewRealtime(opts)
	defer rt.Close()
	target, pid, stop, err := loadTarget(ctx, f, getenv, stdout, rt.URL())
	if err != nil {
		return err
	}
	defer stop()
	rep, err := load.Soak(ctx, target, pid, rt, load.SoakOptions{Calls: f.calls, CallLength: f.callLength,
		Duration: f.duration, Every: f.every, Progress: stdout})
	if err != nil {
		return err
	}
	rep.Print(stdout)
	return writeJSON(f.jsonOut, rep)
}

// runWebhookLoad is `simulate --webhooks`: signed /voice/incoming requests,
// with --flood junk from another client address beside them.
func runWebhookLoad(ctx context.Context, f simFlags, getenv func(string) string, stdout io.Writer) error {
	// Webhooks only: the model address is never dialled.
	target, pid, stop, err := loadTarget(ctx, f, getenv, stdout, "ws://127.0.0.1:9/v1/realtime")
	if err != nil {
		return err
	}
	defer stop()
	rep, err := load.Webhooks(ctx, target, pid, load.WebhookOptions{RPS: f.rps, Concurrency: f.concurrency, Duration: f.duration,
		Flood: f.flood, FloodIP: "198.51.100.7"})
	if err != nil {
		return err
	}
	rep.Print(stdout)
	return writeJSON(f.jsonOut, rep)
}

// realtimeListener is where the fake model listens when the server is an
// already running one (--server-url) that was told its REALTIME_URL; nil
// when this run starts the server and the model may take any port.
func realtimeListener(f simFlags) (net.Listener, error) {
	if f.serverURL == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", f.realtimeListen)
	if err != nil {
		return nil, fmt.Errorf("--realtime-listen %s: %w", f.realtimeListen, err)
	}
	return ln, nil
}

// loadTarget is the server under load: the running one at --server-url
// (its pid from --server-pid), or a child process of this binary using the
// fake model at realtimeURL; stop ends and removes the child.
func loadTarget(ctx context.Context, f simFlags, getenv func(string) string, stdout io.Writer, realtimeURL string) (_ sim.Target, pid int, stop func(), _ error) {
	if f.serverURL != "" {
		t, err := targetFromEnv(f.serverURL, getenv)
		if err != nil {
			return sim.Target{}, 0, nil, err
		}
		if err := t.WaitReady(ctx); err != nil {
			return sim.Target{}, 0, nil, err
		}
		return t, f.serverPID, func() {}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return sim.Target{}, 0, nil, fmt.Errorf("find this binary: %w", err)
	}
	serverEnv := f.serverEnv
	if f.flood > 0 { // the flood's X-Forwarded-For makes it another client
		serverEnv = append(multiFlag{"TRUSTED_PROXIES=127.0.0.1/32"}, serverEnv...)
	}
	env, err := loadServerEnv(sim.NewCredentials(), realtimeURL, serverEnv)
	if err != nil {
		return sim.Target{}, 0, nil, err
	}
	copts := sim.ChildOptions{Exe: exe, Env: env}
	if f.floor {
		copts.Args = []string{"simulate", "--floor-serve"}
	}
	child, err := sim.StartChild(ctx, copts)
	if err != nil {
		return sim.Target{}, 0, nil, err
	}
	stop = func() {
		if err := child.Stop(); err != nil {
			fmt.Fprintf(stdout, "server stop: %v\n", err)
		}
		if f.keep {
			fmt.Fprintf(stdout, "server log kept: %s\n", child.LogFile)
		} else {
			child.Remove()
		}
	}
	what := "server"
	if f.floor {
		what = "relay floor (minimal pass-through relay, not the server)"
	}
	fmt.Fprintf(stdout, "%s: child process %d at %s\n", what, child.PID, child.Target.BaseURL)
	return child.Target, child.PID, stop, nil
}

// serveFloor is the --floor child: the relay floor on PORT until ctx ends
// (SIGTERM from the load generator).
func serveFloor(ctx context.Context, getenv func(string) string) error {
	port, opts, err := load.FloorFromEnv(getenv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	return load.ServeFloor(ctx, ln, opts)
}
