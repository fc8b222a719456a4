package scenario

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/sim"
)

// Env is what a scenario runs against.
type Env struct {
	Target sim.Target
	// Realtime is the fake model the server's REALTIME_URL points at.
	Realtime *fake.Realtime
	// REST is the fake Twilio REST API the server uses, or nil when the
	// server talks to another one (its calls are then not checked).
	REST *fake.TwilioREST
	// Capacity is the server's MAX_CONCURRENT_CALLS.
	Capacity int
	// CallsPerMinute is the server's CALLS_PER_MINUTE (0: not known). The
	// over-capacity scenario fills the server only when this many calls a
	// minute let it; otherwise it says what it needs and is skipped.
	CallsPerMinute int
	// Timeout bounds each scenario (default 30 s).
	Timeout time.Duration

	// placed counts the incoming-call webhooks sent so far: each takes one
	// of the server's CALLS_PER_MINUTE.
	placed atomic.Int64
}

// Result is what happened in one scenario.
type Result struct {
	Scenario string
	// Expect is the scenario's expectation in words.
	Expect string
	// CallSID and Caller identify the scenario's main call.
	CallSID, Caller string
	// Answer is what the server did with the main call.
	Answer string
	// Detail says what was observed.
	Detail string
	// Err is nil when the expectation held.
	Err error
	// Skipped says why the scenario could not run against this server.
	Skipped string
	Took    time.Duration
}

// OK reports whether the scenario passed (or was skipped).
func (r Result) OK() bool { return r.Err == nil }

// skip is returned by a scenario that cannot run against this server.
type skip string

func (s skip) Error() string { return string(s) }

// Scenario is one simulated situation with an expectation.
type Scenario struct {
	Name   string
	Expect string
	Run    func(ctx context.Context, e *Env, r *Result) error
}

// Scenarios returns every scenario, in the order they run: each leaves
// no call live, so the over-capacity one can fill the server itself.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "conversation", Expect: "answered; greeting and answer heard; caller audio reaches the model unchanged; model session closed at hang-up", Run: runConversation},
		{Name: "barge-in", Expect: "caller talks over a long answer: clear sent, answer truncated where playback stood", Run: runBargeIn},
		{Name: "call-contact", Expect: "\"call " + sim.ContactName + "\": lookup_contact then add_to_conference; caller moved into conf_<CallSid>, contact dialled", Run: runCallContact},
		{Name: "http-tool", Expect: "an agent on its own number calls its HTTP tool: the local endpoint verifies the signature and the model hears its answer", Run: runHTTPTool},
		{Name: "blocked-caller", Expect: "number on the deny list gets <Reject/>", Run: runBlocked},
		{Name: "over-capacity", Expect: "a call over MAX_CONCURRENT_CALLS gets <Reject reason=\"busy\"/>; live calls untouched; a slot frees at completion", Run: runOverCapacity},
	}
}

// Run runs the scenarios one after another and returns their results.
func Run(ctx context.Context, e *Env, scenarios []Scenario) []Result {
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	observe := e.Target.Observe
	e.Target.Observe = e.countPlaced(observe)
	defer func() { e.Target.Observe = observe }()
	out := make([]Result, 0, len(scenarios))
	for _, s := range scenarios {
		r := Result{Scenario: s.Name, Expect: s.Expect}
		sctx, cancel := context.WithTimeout(ctx, timeout)
		start := time.Now()
		func() {
			defer func() {
				if p := recover(); p != nil {
					r.Err = fmt.Errorf("panic: %v", p)
				}
			}()
			r.Err = s.Run(sctx, e, &r)
			if sk, ok := r.Err.(skip); ok {
				r.Err, r.Skipped = nil, string(sk)
			}
		}()
		r.Took = time.Since(start)
		cancel()
		out = append(out, r)
	}
	return out
}

// countPlaced wraps a Target's Observe hook to count incoming-call
// webhooks as well.
func (e *Env) countPlaced(observe func(kind, path string, status int, body []byte)) func(kind, path string, status int, body []byte) {
	return func(kind, path string, status int, body []byte) {
		if kind == "webhook" && strings.HasPrefix(path, "/voice/incoming") {
			e.placed.Add(1)
		}
		if observe != nil {
			observe(kind, path, status, body)
		}
	}
}

// Passed reports whether every result passed.
func Passed(rs []Result) bool {
	for _, r := range rs {
		if !r.OK() {
			return false
		}
	}
	return true
}
