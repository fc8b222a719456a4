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

// runLoad is `simulate --load` and `simulate --webhooks`.
func runLoad(ctx context.Context, f simFlags, getenv func(string) string, stdout io.Writer) error {
	var gen *sim.Load
	var soakRT *fake.Realtime
	switch {
	case f.soak:
		opts := fake.RealtimeOptions{Paced: true, ChunkBytes: fake.FrameBytes, DiscardAudio: true,
			Chunks: int(f.callLength/(20*time.Millisecond)) + 500}
		if f.serverURL != "" {
			ln, err := net.Listen("tcp", f.realtimeListen)
			if err != nil {
				return fmt.Errorf("--realtime-listen %s: %w", f.realtimeListen, err)
			}
			opts.Listener = ln
		}
		soakRT = fake.NewRealtime(opts)
		defer soakRT.Close()
	case f.load && !f.webhooks:
		opts := sim.LoadOptions{Calls: f.calls, Duration: f.duration, Ramp: f.ramp,
			ModelAcceptDelay: f.acceptDly, ModelDelta: f.modelDelta, EarlyHangups: f.earlyHangups, Progress: stdout}
		if f.serverURL != "" {
			ln, err := net.Listen("tcp", f.realtimeListen)
			if err != nil {
				return fmt.Errorf("--realtime-listen %s: %w", f.realtimeListen, err)
			}
			opts.RealtimeListener = ln
		}
		var err error
		if gen, err = sim.NewLoad(opts); err != nil {
			return usageError{"simulate --load: " + err.Error()}
		}
		defer gen.Close()
	}

	var target sim.Target
	pid := f.serverPID
	if f.serverURL != "" {
		t, err := targetFromEnv(f.serverURL, getenv)
		if err != nil {
			return err
		}
		target = t
		if err := target.WaitReady(ctx); err != nil {
			return err
		}
	} else {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this binary: %w", err)
		}
		realtimeURL := "ws://127.0.0.1:9/v1/realtime" // webhooks only: never dialled
		if gen != nil {
			realtimeURL = gen.RealtimeURL()
		}
		if soakRT != nil {
			realtimeURL = soakRT.URL()
		}
		serverEnv := f.serverEnv
		if f.flood > 0 { // the flood's X-Forwarded-For makes it another client
			serverEnv = append(multiFlag{"TRUSTED_PROXIES=127.0.0.1/32"}, serverEnv...)
		}
		env, err := loadServerEnv(sim.NewCredentials(), realtimeURL, serverEnv)
		if err != nil {
			return err
		}
		copts := sim.ChildOptions{Exe: exe, Env: env}
		if f.floor {
			copts.Args = []string{"simulate", "--floor-serve"}
		}
		child, err := sim.StartChild(ctx, copts)
		if err != nil {
			return err
		}
		defer func() {
			if err := child.Stop(); err != nil {
				fmt.Fprintf(stdout, "server stop: %v\n", err)
			}
			if f.keep {
				fmt.Fprintf(stdout, "server log kept: %s\n", child.LogFile)
			} else {
				child.Remove()
			}
		}()
		target, pid = child.Target, child.PID
		what := "server"
		if f.floor {
			what = "relay floor (minimal pass-through relay, not the server)"
		}
		fmt.Fprintf(stdout, "%s: child process %d at %s\n", what, pid, target.BaseURL)
	}

	if soakRT != nil {
		rep, err := sim.Soak(ctx, target, pid, soakRT, sim.SoakOptions{Calls: f.calls, CallLength: f.callLength,
			Duration: f.duration, Every: f.every, Progress: stdout})
		if err != nil {
			return err
		}
		rep.Print(stdout)
		return writeJSON(f.jsonOut, rep)
	}
	if gen == nil {
		rep, err := sim.Webhooks(ctx, target, pid, sim.WebhookOptions{RPS: f.rps, Concurrency: f.concurrency, Duration: f.duration,
			Flood: f.flood, FloodIP: "198.51.100.7", Unsigned: f.unsigned})
		if err != nil {
			return err
		}
		rep.Print(stdout)
		return writeJSON(f.jsonOut, rep)
	}
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

// serveFloor is the --floor child: the relay floor on PORT until ctx ends
// (SIGTERM from the load generator).
func serveFloor(ctx context.Context, getenv func(string) string) error {
	port, opts, err := sim.FloorFromEnv(getenv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	return sim.ServeFloor(ctx, ln, opts)
}
