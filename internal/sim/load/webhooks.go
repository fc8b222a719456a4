package load

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voiceagent/voiceagent/internal/sim"
)

// WebhookOptions configure a webhook load run.
type WebhookOptions struct {
	// RPS caps the request rate (0: as fast as Concurrency allows).
	RPS int
	// Concurrency is the number of requests in flight at most.
	Concurrency int
	// Duration is how long requests are sent.
	Duration time.Duration
	// Flood is the number of extra workers sending unauthenticated junk
	// (unsigned and forged webhooks, media-stream upgrades with bad
	// tokens) as fast as they can while the signed requests run, each
	// with X-Forwarded-For FloodIP (the server must trust the generator
	// as a proxy, so the flood is another client than the signed calls).
	Flood   int
	FloodIP string
	// Unsigned sends the same requests without a signature: every one is
	// refused, which measures what refused traffic costs (webhooks_refused.go).
	Unsigned bool
}

// WebhookReport is the outcome of a webhook load run.
type WebhookReport struct {
	Requests  int64
	Errors    int64
	Statuses  map[int]int64
	Decisions map[string]int64
	Wall      time.Duration
	Latency   Latency
	// FloodRequests and FloodStatuses count the junk requests (Flood).
	FloodRequests int64
	FloodStatuses map[int]int64
	ServerCPU     time.Duration
	Generator     time.Duration
	Machine       sim.Machine
	Options       WebhookOptions
	// EventsShed is the server's voiceagent_events_shed_total after the
	// run: live events not sent to the other instances (PostgreSQL's
	// event channel), all reasons. ShedErr says why it could not be read.
	EventsShed float64
	ShedErr    error
}

// RPS is the achieved rate of answered requests.
func (r *WebhookReport) RPS() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Requests-r.Errors) / r.Wall.Seconds()
}

// Webhooks drives signed /voice/incoming requests, each a new call (a
// distinct CallSid and caller), and measures the answers.
func Webhooks(ctx context.Context, t sim.Target, pid int, o WebhookOptions) (*WebhookReport, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if t.HTTP == nil {
		t.HTTP = sim.NewHTTPClient(o.Concurrency)
	}
	rep := &WebhookReport{Statuses: map[int]int64{}, Decisions: map[string]int64{}, Machine: sim.ThisMachine(), Options: o}
	mon := newMonitor(pid)
	defer mon.stop()
	startCPU, err := mon.read()
	if err != nil && pid > 0 {
		return nil, err
	}
	genStart, _ := sim.ReadProc(os.Getpid())

	rctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	// A pacer hands out request slots at RPS; workers take them.
	slots := make(chan struct{}, o.Concurrency)
	go func() {
		defer close(slots)
		if o.RPS <= 0 {
			for {
				select {
				case slots <- struct{}{}:
				case <-rctx.Done():
					return
				}
			}
		}
		interval := time.Second / time.Duration(o.RPS)
		next := time.Now()
		for {
			next = next.Add(interval)
			if !sleepCtx(rctx, time.Until(next)) {
				return
			}
			select {
			case slots <- struct{}{}:
			case <-rctx.Done():
				return
			}
		}
	}()
	var seq atomic.Int64
	var mu sync.Mutex
	var lat []uint32
	var wg sync.WaitGroup
	start := time.Now()
	floodDone := flood(rctx, t, o, rep)
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []uint32
			statuses := map[int]int64{}
			decisions := map[string]int64{}
			var errs int64
			for range slots {
				n := seq.Add(1)
				p := t.CallParams(fmt.Sprintf("+1555%07d", n%10000000), t.CalledNumber)
				req, err := incomingRequest(ctx, t, p, o.Unsigned)
				if err != nil {
					errs++
					continue
				}
				t0 := time.Now()
				resp, err := t.HTTP.Do(req)
				if err != nil {
					errs++
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				mine = append(mine, uint32(time.Since(t0)/time.Microsecond))
				statuses[resp.StatusCode]++
				if err != nil {
					errs++
					continue
				}
				if ans, err := sim.ParseTwiML(body); err == nil {
					decisions[ans.Decision()]++
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			for k, v := range statuses {
				rep.Statuses[k] += v
			}
			for k, v := range decisions {
				rep.Decisions[k] += v
			}
			rep.Errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	rep.Wall = time.Since(start)
	floodDone()
	rep.Requests = seq.Load()
	rep.Latency = summarize(lat)
	end, _ := mon.read()
	rep.ServerCPU = end.CPU - startCPU.CPU
	genEnd, _ := sim.ReadProc(os.Getpid())
	rep.Generator = genEnd.CPU - genStart.CPU
	m, err := scrapeMetrics(ctx, t, shedMetric)
	rep.EventsShed, rep.ShedErr = m[shedMetric], err
	return rep, nil
}

const shedMetric = "voiceagent_events_shed_total"

// Print writes the report.
func (r *WebhookReport) Print(w io.Writer) {
	fmt.Fprintf(w, "machine: %s\n", r.Machine)
	fmt.Fprintf(w, "%s POST /voice/incoming, each a new call: %d requests in %s = %.0f req/s (concurrency %d, rate cap %d)\n",
		signedOrNot(r.Options.Unsigned), r.Requests, r.Wall.Round(time.Millisecond), r.RPS(), r.Options.Concurrency, r.Options.RPS)
	fmt.Fprintf(w, "latency p50 %s  p90 %s  p99 %s  max %s; transport errors %d\n",
		fmtDur(r.Latency.P50), fmtDur(r.Latency.P90), fmtDur(r.Latency.P99), fmtDur(r.Latency.Max), r.Errors)
	fmt.Fprintf(w, "statuses: %s; answers: %s\n", countList(r.Statuses), countList(r.Decisions))
	if r.Options.Flood > 0 {
		fmt.Fprintf(w, "flood alongside: %d unauthenticated requests from %s (%d workers), statuses: %s\n",
			r.FloodRequests, r.Options.FloodIP, r.Options.Flood, countList(r.FloodStatuses))
	}
	if r.ServerCPU > 0 {
		fmt.Fprintf(w, "server CPU %.2f s (%.3f ms per request); generator CPU %.2f s\n",
			r.ServerCPU.Seconds(), float64(r.ServerCPU.Microseconds())/1000/float64(max(r.Requests, 1)), r.Generator.Seconds())
	}
	if r.ShedErr != nil {
		fmt.Fprintf(w, "live events shed: unknown (%v)\n", r.ShedErr)
	} else {
		fmt.Fprintf(w, "live events shed (not sent to other instances, %s): %.0f\n", shedMetric, r.EventsShed)
	}
}

func countList[K comparable](m map[K]int64) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%v=%d", k, v))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "-"
	}
	out := parts[0]
	for _, p := range parts[1:] {
		out += " " + p
	}
	return out
}

// flood runs o.Flood workers sending unauthenticated requests until ctx
// ends; the returned func waits for them and adds their counts to rep.
func flood(ctx context.Context, t sim.Target, o WebhookOptions, rep *WebhookReport) func() {
	rep.FloodStatuses = map[int]int64{}
	if o.Flood <= 0 {
		return func() {}
	}
	client := sim.NewHTTPClient(o.Flood)
	junk := []struct{ method, path, sig string }{
		{http.MethodPost, "/voice/incoming", ""},
		{http.MethodPost, "/voice/status", "forged"},
		{http.MethodGet, "/media-stream/tok_0123456789abcdefABCDEF", ""},
		{http.MethodGet, "/call/tok_0123456789abcdefABCDEF", "forged"},
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range o.Flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses := map[int]int64{}
			var n int64
			for i := w; ctx.Err() == nil; i++ {
				j := junk[i%len(junk)]
				req, err := http.NewRequestWithContext(ctx, j.method, t.BaseURL+j.path, nil)
				if err != nil {
					break
				}
				if o.FloodIP != "" {
					req.Header.Set("X-Forwarded-For", o.FloodIP)
				}
				if j.sig != "" {
					req.Header.Set("X-Twilio-Signature", j.sig)
				}
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body) //nolint:errcheck // drained for reuse
				resp.Body.Close()
				statuses[resp.StatusCode]++
				n++
			}
			mu.Lock()
			rep.FloodRequests += n
			for k, v := range statuses {
				rep.FloodStatuses[k] += v
			}
			mu.Unlock()
		}()
	}
	return wg.Wait
}
