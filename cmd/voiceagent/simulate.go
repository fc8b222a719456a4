package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/sim"
	"github.com/voiceagent/voiceagent/internal/sim/scenario"
)

const simulateUsage = `usage: voiceagent simulate [flags]

Without flags: starts a server in this process on a temporary SQLite
database, with a fake Realtime model and a fake Twilio REST API on
loopback and credentials generated for the run, and plays every scenario.

  --scenario NAME        run one scenario (conversation, barge-in,
                         call-contact, http-tool, blocked-caller,
                         over-capacity)
  --url URL              play the scenarios against a running server
                         (TWILIO_AUTH_TOKEN, TWILIO_ACCOUNT_SID,
                         INTERNAL_API_BEARER, PUBLIC_URL, TWILIO_PHONE_NUMBER
                         from the environment); start it with
                         REALTIME_URL=ws://<--realtime-listen>/v1/realtime
  --realtime-listen ADDR where the fake model listens with --url or
                         --server-url (default 127.0.0.1:8099)
  --capacity N           with --url: the server's MAX_CONCURRENT_CALLS
  --calls-per-minute N   with --url: the server's CALLS_PER_MINUTE (both
                         are read from the server's /ready when the token
                         holds metrics:read; the over-capacity scenario is
                         skipped, saying what it needs, when the rate
                         would throttle calls before capacity is reached)
  -v                     print the in-process server's log

Load benchmark (the server runs as a separate process: this binary's
"serve", so its CPU time and memory are measured on their own):
  --load --calls N --duration D --ramp R
  --model-accept-delay D the fake model accepts each socket this late
  --model-delta D        audio per model delta (default 20ms; real models
                         send larger ones)
  --early-hangups N      extra calls that hang up as soon as they connect
  --floor                with --load: run the relay floor (a minimal
                         pass-through relay: no database, no checks, one
                         media plus one mark per model delta) as the child
                         in place of the server, to report relay figures as
                         a ratio to it; run it back to back with the server
  --webhooks --rps N --concurrency N --duration D
                         signed /voice/incoming load instead of calls
  --flood N              with --webhooks: N more workers send unauthenticated
                         junk (unsigned/forged webhooks, bad media-stream
                         upgrades) at full speed from another client address
                         (X-Forwarded-For 198.51.100.7; a child server is
                         started trusting the generator as a proxy)
  --soak --calls N --call-length D --duration D --every D
                         churn calls (N at a time, each D long) and
                         sample the server's goroutines, heap and RSS
  --server-url URL --server-pid PID
                         attach to a running server instead (credentials
                         from the environment as with --url)
  --server-env K=V       extra variable for the child server (repeatable),
                         e.g. PPROF_ADDR=127.0.0.1:6060 or GOGC=200
  --json FILE            also write the report as JSON
  --keep                 keep the child server's data directory and log
  --cpuprofile FILE      profile the simulator itself (the load generator)
`

type simFlags struct {
	scenario, url, realtimeListen string
	capacity, callsPerMinute      int
	verbose                       bool

	load, webhooks, soak      bool
	floor, floorServe         bool
	callLength, every         time.Duration
	calls, earlyHangups       int
	duration, ramp, acceptDly time.Duration
	modelDelta                time.Duration
	rps, concurrency          int
	flood                     int
	serverURL                 string
	serverPID                 int
	serverEnv                 multiFlag
	jsonOut                   string
	keep                      bool
	cpuProfile                string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runSimulate is `voiceagent simulate`.
func runSimulate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f simFlags
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.scenario, "scenario", "", "")
	fs.StringVar(&f.url, "url", "", "")
	fs.StringVar(&f.realtimeListen, "realtime-listen", "127.0.0.1:8099", "")
	fs.IntVar(&f.capacity, "capacity", 0, "")
	fs.IntVar(&f.callsPerMinute, "calls-per-minute", 0, "")
	fs.BoolVar(&f.verbose, "v", false, "")
	fs.BoolVar(&f.load, "load", false, "")
	fs.BoolVar(&f.webhooks, "webhooks", false, "")
	fs.BoolVar(&f.soak, "soak", false, "")
	fs.BoolVar(&f.floor, "floor", false, "")
	fs.BoolVar(&f.floorServe, "floor-serve", false, "") // the --floor child itself
	fs.DurationVar(&f.callLength, "call-length", 20*time.Second, "")
	fs.DurationVar(&f.every, "every", 30*time.Second, "")
	fs.IntVar(&f.calls, "calls", 50, "")
	fs.IntVar(&f.earlyHangups, "early-hangups", 0, "")
	fs.DurationVar(&f.duration, "duration", 30*time.Second, "")
	fs.DurationVar(&f.ramp, "ramp", 10*time.Second, "")
	fs.DurationVar(&f.acceptDly, "model-accept-delay", 0, "")
	fs.DurationVar(&f.modelDelta, "model-delta", 20*time.Millisecond, "")
	fs.IntVar(&f.rps, "rps", 0, "")
	fs.IntVar(&f.concurrency, "concurrency", 64, "")
	fs.IntVar(&f.flood, "flood", 0, "")
	fs.StringVar(&f.serverURL, "server-url", "", "")
	fs.IntVar(&f.serverPID, "server-pid", 0, "")
	fs.Var(&f.serverEnv, "server-env", "")
	fs.StringVar(&f.jsonOut, "json", "", "")
	fs.BoolVar(&f.keep, "keep", false, "")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, simulateUsage)
			return nil
		}
		fmt.Fprint(stderr, simulateUsage)
		return usageError{"simulate: " + err.Error()}
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, simulateUsage)
		return usageError{"simulate takes flags only"}
	}
	if f.cpuProfile != "" {
		stop, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	switch {
	case f.floorServe:
		return serveFloor(ctx, getenv)
	case f.floor && (!f.load || f.webhooks || f.soak || f.serverURL != ""):
		return usageError{"simulate: --floor goes with --load (calls), without --server-url"}
	case f.load || f.webhooks || f.soak:
		return runLoad(ctx, f, getenv, stdout)
	case f.url != "":
		return runScenariosRemote(ctx, f, getenv, stdout)
	default:
		return runScenariosInProcess(ctx, f, stdout, stderr)
	}
}

func pickScenarios(name string) ([]scenario.Scenario, error) {
	all := scenario.Scenarios()
	if name == "" {
		return all, nil
	}
	for _, s := range all {
		if s.Name == name {
			return []scenario.Scenario{s}, nil
		}
	}
	return nil, usageError{fmt.Sprintf("unknown scenario %q", name)}
}

// inProcessCapacity is MAX_CONCURRENT_CALLS of the in-process server: the
// over-capacity scenario fills it.
const inProcessCapacity = 2

func runScenariosInProcess(ctx context.Context, f simFlags, stdout, stderr io.Writer) error {
	scenarios, err := pickScenarios(f.scenario)
	if err != nil {
		return err
	}
	var logw io.Writer
	env := map[string]string{
		"MAX_CONCURRENT_CALLS": strconv.Itoa(inProcessCapacity),
		"CALLS_PER_MINUTE":     "1000",
	}
	if f.verbose {
		logw = stderr
		env["LOG_LEVEL"] = "debug"
	}
	p, err := sim.StartInProcess(ctx, sim.InProcessOptions{Env: env, Log: logw})
	if err != nil {
		return err
	}
	defer p.Close()
	fmt.Fprintf(stdout, "simulating calls against an in-process server at %s (SQLite, fake Realtime model, fake Twilio REST)\n\n", p.Target.BaseURL)
	rs := scenario.Run(ctx, &scenario.Env{Target: p.Target, Realtime: p.Realtime, REST: p.REST, Capacity: inProcessCapacity}, scenarios)
	scenario.PrintResults(stdout, rs)
	if !scenario.Passed(rs) {
		return errors.New("simulate: a scenario's expectation failed")
	}
	return nil
}

// targetFromEnv builds a Target for a running server from its environment.
func targetFromEnv(baseURL string, getenv func(string) string) (sim.Target, error) {
	t := sim.Target{
		BaseURL:      strings.TrimRight(baseURL, "/"),
		PublicURL:    strings.TrimRight(getenv("PUBLIC_URL"), "/"),
		AuthToken:    getenv("TWILIO_AUTH_TOKEN"),
		AccountSID:   getenv("TWILIO_ACCOUNT_SID"),
		Bearer:       strings.Split(getenv("INTERNAL_API_BEARER"), ",")[0],
		CalledNumber: getenv("TWILIO_PHONE_NUMBER"),
		HTTP:         sim.NewHTTPClient(64),
	}
	var missing []string
	for _, kv := range [][2]string{{"PUBLIC_URL", t.PublicURL}, {"TWILIO_AUTH_TOKEN", t.AuthToken}, {"INTERNAL_API_BEARER", t.Bearer}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) > 0 {
		return t, fmt.Errorf("set %s to the running server's values", strings.Join(missing, ", "))
	}
	if t.CalledNumber == "" {
		t.CalledNumber = sim.ServiceNumber
	}
	return t, nil
}

func runScenariosRemote(ctx context.Context, f simFlags, getenv func(string) string, stdout io.Writer) error {
	scenarios, err := pickScenarios(f.scenario)
	if err != nil {
		return err
	}
	t, err := targetFromEnv(f.url, getenv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.realtimeListen)
	if err != nil {
		return fmt.Errorf("--realtime-listen %s: %w", f.realtimeListen, err)
	}
	rt := newRealtimeOn(ln)
	defer rt.Close()
	if err := t.WaitReady(ctx); err != nil {
		return err
	}
	limits := remoteLimits(ctx, f, &t, getenv)
	fmt.Fprintf(stdout, "simulating calls against %s (its REALTIME_URL must be %s; Twilio REST calls are not checked)\n\n", t.BaseURL, rt.URL())
	rs := scenario.Run(ctx, &scenario.Env{Target: t, Realtime: rt, Capacity: limits.MaxConcurrentCalls, CallsPerMinute: limits.CallsPerMinute}, scenarios)
	scenario.PrintResults(stdout, rs)
	if !scenario.Passed(rs) {
		return errors.New("simulate: a scenario's expectation failed")
	}
	return nil
}

// remoteLimits are the running server's call limits: each from its flag
// when given, else from the server's /ready, else from this environment's
// MAX_CONCURRENT_CALLS and CALLS_PER_MINUTE, else the server's defaults.
func remoteLimits(ctx context.Context, f simFlags, t *sim.Target, getenv func(string) string) sim.Limits {
	l, err := t.Limits(ctx)
	if err != nil {
		l = sim.Limits{}
		l.MaxConcurrentCalls, _ = strconv.Atoi(getenv("MAX_CONCURRENT_CALLS"))
		l.CallsPerMinute, _ = strconv.Atoi(getenv("CALLS_PER_MINUTE"))
	}
	if f.capacity > 0 {
		l.MaxConcurrentCalls = f.capacity
	}
	if f.callsPerMinute > 0 {
		l.CallsPerMinute = f.callsPerMinute
	}
	if l.MaxConcurrentCalls <= 0 {
		l.MaxConcurrentCalls = config.DefaultMaxConcurrentCalls
	}
	if l.CallsPerMinute <= 0 {
		l.CallsPerMinute = config.DefaultCallsPerMinute
	}
	return l
}

func writeJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// startCPUProfile profiles this process (the load generator, not the
// server: the server has PPROF_ADDR) until the returned function runs.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
