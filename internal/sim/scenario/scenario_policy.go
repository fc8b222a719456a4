package scenario

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/redact"
	"github.com/voiceagent/voiceagent/internal/sim"
)

func runBlocked(ctx context.Context, e *Env, r *Result) error {
	path := "/api/callers/blocked/" + url.PathEscape(sim.BlockedNumber)
	code, body, err := e.Target.API(ctx, http.MethodPut, path, nil)
	if err != nil {
		return fmt.Errorf("deny-list the caller: %w", err)
	}
	if code < 200 || code > 299 {
		return fmt.Errorf("deny-list the caller: HTTP %d: %.200s", code, body)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _, _ = e.Target.API(dctx, http.MethodDelete, path, nil)
	}()
	a, err := e.Target.Place(ctx, sim.BlockedNumber, e.Target.CalledNumber)
	if a != nil {
		r.CallSID, r.Caller, r.Answer = sim.MaskSID(a.CallSID()), redact.Phone(sim.BlockedNumber), a.Decision()
	}
	if err != nil {
		return err
	}
	if a.Decision() != "reject" {
		return fmt.Errorf("answered with %q, want <Reject/>", a.Decision())
	}
	r.Detail = "rejected before answer (nothing billed)"
	return nil
}

// maxFill is the largest MAX_CONCURRENT_CALLS the over-capacity scenario
// fills with live calls.
const maxFill = 200

func runOverCapacity(ctx context.Context, e *Env, r *Result) error {
	n := e.Capacity
	if n <= 0 {
		return fmt.Errorf("capacity %d: tell the simulator the server's MAX_CONCURRENT_CALLS (--capacity)", n)
	}
	if n > maxFill {
		return skip(fmt.Sprintf("needs a server with MAX_CONCURRENT_CALLS of at most %d to fill (this one allows %d)", maxFill, n))
	}
	// Filling the server, the call over capacity and the call after one
	// completes must all pass CALLS_PER_MINUTE (a sliding minute that the
	// calls placed earlier in this run count against too), or the server
	// answers busy for the rate before the capacity is reached.
	need := int(e.placed.Load()) + n + 2
	if e.CallsPerMinute > 0 && e.CallsPerMinute < need {
		return skip(fmt.Sprintf("needs CALLS_PER_MINUTE of at least %d to fill MAX_CONCURRENT_CALLS=%d (this server allows %d calls a minute); "+
			"start it with CALLS_PER_MINUTE=%d or a smaller MAX_CONCURRENT_CALLS", need, n, e.CallsPerMinute, need))
	}
	type held struct {
		a *sim.Attempt
		c *fake.MediaClient
	}
	var live []held
	defer func() {
		for _, h := range live {
			_ = h.c.Stop()
			_ = e.Target.Status(context.WithoutCancel(ctx), h.a.Params, "completed", 1)
		}
	}()
	for i := range n {
		a, err := e.Target.Place(ctx, fmt.Sprintf("+1555555%04d", 2000+i), e.Target.CalledNumber)
		if err != nil {
			return fmt.Errorf("call %d of %d: %w", i+1, n, err)
		}
		if a.Decision() != "stream" {
			return fmt.Errorf("call %d of %d (under capacity) answered with %q (a server whose CALLS_PER_MINUTE is below %d throttles before it is full: tell the simulator its limits, --calls-per-minute and --capacity)",
				i+1, n, a.Decision(), need)
		}
		c, err := e.Target.Connect(ctx, a, fake.MediaOptions{})
		if err != nil {
			return fmt.Errorf("call %d of %d: stream: %w", i+1, n, err)
		}
		live = append(live, held{a, c})
	}
	from := "+15555550114"
	a, err := e.Target.Place(ctx, from, e.Target.CalledNumber)
	if a != nil {
		r.CallSID, r.Caller, r.Answer = sim.MaskSID(a.CallSID()), redact.Phone(from), a.Decision()
	}
	if err != nil {
		return err
	}
	if a.Decision() != "busy" {
		return fmt.Errorf("call over capacity answered with %q, want <Reject reason=\"busy\"/>", a.Decision())
	}
	for i, h := range live {
		if h.c.Closed() {
			return fmt.Errorf("live call %d was closed to make room", i+1)
		}
	}
	// Ending one live call frees a slot for the next caller.
	first := live[0]
	live = live[1:]
	_ = first.c.Stop()
	if err := e.Target.Status(ctx, first.a.Params, "completed", 1); err != nil {
		return fmt.Errorf("status callback: %w", err)
	}
	again, err := e.Target.Place(ctx, "+15555550115", e.Target.CalledNumber)
	if err != nil {
		return err
	}
	if again.Decision() != "stream" {
		return errors.New("a slot freed by a completed call was not given to the next caller (" + again.Decision() + ")")
	}
	if c, err := e.Target.Connect(ctx, again, fake.MediaOptions{}); err == nil {
		_ = c.Stop()
	}
	_ = e.Target.Status(ctx, again.Params, "completed", 0)
	r.Detail = fmt.Sprintf("%d live calls kept; caller %d got busy; answered again after one completed", n, n+1)
	return nil
}
