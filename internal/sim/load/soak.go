package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/sim"
)

// SoakOptions configure a soak run: calls churn for Duration, Calls at a
// time, each lasting CallLength, and the server is sampled every Every.
type SoakOptions struct {
	Calls      int
	CallLength time.Duration
	Duration   time.Duration
	Every      time.Duration
	Progress   io.Writer
}

// SoakSample is one reading of the server during a soak.
type SoakSample struct {
	At         time.Duration // since the start
	Live       int64         // calls streaming at that moment
	Done       int64         // calls completed so far
	Goroutines int64
	HeapInuse  int64
	RSS        int64
}

// SoakReport is the outcome of a soak run.
type SoakReport struct {
	Options  SoakOptions
	Calls    int64
	Failed   int64
	Samples  []SoakSample
	Idle     SoakSample // before the first call
	After    SoakSample // after the last call ended
	Machine  sim.Machine
	Sessions int // model sessions left open at the end
}

// Soak churns calls against t (whose REALTIME_URL is rt) and samples the
// server's goroutines and heap from /metrics and its RSS from /proc.
func Soak(ctx context.Context, t sim.Target, pid int, rt *fake.Realtime, o SoakOptions) (*SoakReport, error) {
	if o.Every <= 0 {
		o.Every = 30 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if t.HTTP == nil {
		t.HTTP = sim.NewHTTPClient(o.Calls)
	}
	rep := &SoakReport{Options: o, Machine: sim.ThisMachine()}
	var live, done, failed atomic.Int64
	sample := func(start time.Time) SoakSample {
		s := SoakSample{At: time.Since(start).Round(time.Second), Live: live.Load(), Done: done.Load()}
		m, err := scrapeMetrics(ctx, t, "go_goroutines", "go_memstats_heap_inuse_bytes")
		if err == nil {
			s.Goroutines, s.HeapInuse = int64(m["go_goroutines"]), int64(m["go_memstats_heap_inuse_bytes"])
		}
		if p, err := sim.ReadProc(pid); err == nil {
			s.RSS = p.RSS
		}
		return s
	}
	start := time.Now()
	rep.Idle = sample(start)
	dctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var wg sync.WaitGroup
	var seq atomic.Int64
	for w := range o.Calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Stagger the workers so calls end at different times.
			if !sleepCtx(dctx, o.CallLength*time.Duration(w)/time.Duration(o.Calls)) {
				return
			}
			for dctx.Err() == nil {
				n := seq.Add(1)
				if err := soakCall(dctx, t, n, o.CallLength, &live); err != nil && dctx.Err() == nil {
					failed.Add(1)
					fmt.Fprintf(o.Progress, "call %d: %v\n", n, err)
					sleepCtx(dctx, time.Second)
					continue
				}
				done.Add(1)
			}
		}()
	}
	tick := time.NewTicker(o.Every)
	func() {
		defer tick.Stop()
		for {
			select {
			case <-dctx.Done():
				return
			case <-tick.C:
				s := sample(start)
				rep.Samples = append(rep.Samples, s)
				fmt.Fprintf(o.Progress, "%6s live %4d done %6d goroutines %6d heap %6.1f MiB rss %6.1f MiB\n",
					s.At, s.Live, s.Done, s.Goroutines, mib(s.HeapInuse), mib(s.RSS))
			}
		}
	}()
	wg.Wait()
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	_ = rt.WaitFor(wctx, func() bool { return rt.OpenSessions() == 0 })
	wcancel()
	rep.Sessions = rt.OpenSessions()
	// Idle keep-alive connections hold a server goroutine each; close
	// them and give the server a moment to finish its own cleanup before
	// the last reading.
	t.HTTP.CloseIdleConnections()
	sleepCtx(ctx, 2*time.Second)
	rep.After = sample(start)
	rep.Calls, rep.Failed = done.Load(), failed.Load()
	return rep, nil
}

// soakCall is one churned call: answered, streaming silence at 20 ms for
// length, then hung up and completed.
func soakCall(ctx context.Context, t sim.Target, n int64, length time.Duration, live *atomic.Int64) error {
	a, err := t.Place(ctx, fmt.Sprintf("+1555%07d", n%10000000), t.CalledNumber)
	if err != nil {
		return err
	}
	if a.Decision() != "stream" {
		return fmt.Errorf("answered %s", a.Decision())
	}
	c, err := t.Connect(ctx, a, fake.MediaOptions{DiscardAudio: true})
	if err != nil {
		_ = t.Status(context.WithoutCancel(ctx), a.Params, "failed", 0)
		return err
	}
	live.Add(1)
	defer live.Add(-1)
	frame := fake.SilenceFrame()
	tick := time.NewTicker(20 * time.Millisecond)
	end := time.Now().Add(length)
	for time.Now().Before(end) {
		if err := c.SendMedia(frame); err != nil {
			break
		}
		select {
		case <-tick.C:
		case <-c.Done():
			end = time.Time{}
		case <-ctx.Done():
			end = time.Time{}
		}
	}
	tick.Stop()
	_ = c.Stop()
	return t.Status(context.WithoutCancel(ctx), a.Params, "completed", int(length.Seconds()))
}

// scrapeMetrics reads the named series from /metrics; a labelled family
// is the sum of its series, and a family the server has not written yet
// (a counter vector nothing has counted) is absent from the map.
func scrapeMetrics(ctx context.Context, t sim.Target, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(t.BaseURL, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+t.Bearer)
	resp, err := t.Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: HTTP %d", resp.StatusCode)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line[:i], "{")
		if !want[name] {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[name] += v
		}
	}
	return out, sc.Err()
}

// Print writes the samples and the verdict.
func (r *SoakReport) Print(w io.Writer) {
	fmt.Fprintf(w, "machine: %s\n", r.Machine)
	fmt.Fprintf(w, "soak: %d calls at a time, %s each, for %s: %d calls completed, %d failed; model sessions left open: %d\n",
		r.Options.Calls, r.Options.CallLength, r.Options.Duration, r.Calls, r.Failed, r.Sessions)
	fmt.Fprintf(w, "| time | live calls | calls done | goroutines | heap in use (MiB) | RSS (MiB) |\n|---|---|---|---|---|---|\n")
	row := func(label string, s SoakSample) {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %.1f | %.1f |\n", label, s.Live, s.Done, s.Goroutines, mib(s.HeapInuse), mib(s.RSS))
	}
	row("idle", r.Idle)
	for _, s := range r.Samples {
		row(s.At.String(), s)
	}
	row("after", r.After)
}
