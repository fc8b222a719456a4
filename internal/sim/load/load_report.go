package load

import (
	"fmt"
	"github.com/voiceagent/voiceagent/internal/sim"
	"io"
	"sort"
	"time"
)

// Direction is what one direction of the audio did over a run.
type Direction struct {
	Sent, Received, Lost, Duplicates int64
	// InFlight counts frames still on their way when the caller hung up
	// (model -> caller only; not in Sent).
	InFlight int64
	Latency  Latency
}

// ServerUsage is the server process's CPU time and memory over a run.
type ServerUsage struct {
	CPU          time.Duration // whole run, call setup included
	SteadyCPU    time.Duration // while every call was streaming
	SteadyWindow time.Duration
	// SteadySyscalls counts read and write system calls in the window.
	SteadySyscalls int64
	BaselineRSS    int64 // before the first call
	PeakRSS        int64 // highest VmRSS sampled
	HWM            int64 // VmHWM at the end
}

// LoadReport is the outcome of a load run.
type LoadReport struct {
	Calls            int
	Connected        int
	EarlyHangups     int
	Duration, Ramp   time.Duration
	ModelAcceptDelay time.Duration
	ModelDelta       time.Duration
	Wall             time.Duration
	FailReasons      map[string]int
	// Up is caller -> model, Down model -> caller.
	Up, Down Direction
	// Unlinked counts calls whose model session never received a frame.
	Unlinked int
	// SessionsLeft is the number of model sessions still open after every
	// call hung up and the wait ended; SessionsClosedIn is how long the
	// last one took to close after the last hang-up.
	SessionsLeft     int
	SessionsClosedIn time.Duration
	// SessionsOpened is how many model sockets the server opened in all.
	SessionsOpened int
	CallSeconds    float64
	Server         ServerUsage
	Generator      struct{ CPU time.Duration }
	Machine        sim.Machine
}

// CPUPerCallSecond is the server's CPU milliseconds per second of one
// streaming call, from the steady window (every call live).
func (r *LoadReport) CPUPerCallSecond() float64 {
	if r.Server.SteadyWindow <= 0 || r.Calls == 0 {
		return 0
	}
	return float64(r.Server.SteadyCPU.Milliseconds()) / (float64(r.Calls) * r.Server.SteadyWindow.Seconds())
}

// CPUPerCallSecondAll is the same over the whole run, call setup and
// teardown included.
func (r *LoadReport) CPUPerCallSecondAll() float64 {
	if r.CallSeconds <= 0 {
		return 0
	}
	return float64(r.Server.CPU.Milliseconds()) / r.CallSeconds
}

// RSSPerCall is the server's peak RSS above its idle baseline, per call.
func (r *LoadReport) RSSPerCall() int64 {
	if r.Calls == 0 || r.Server.PeakRSS == 0 {
		return 0
	}
	return (r.Server.PeakRSS - r.Server.BaselineRSS) / int64(r.Calls)
}

// analyze turns the per-frame records into the report's figures.
func (l *Load) analyze(rep *LoadReport) {
	var up, down []uint32
	for _, c := range l.rec.calls {
		if c.err != nil {
			rep.FailReasons[c.stage+": "+shortErr(c.err)]++
		}
		if c.early {
			continue
		}
		if c.connected {
			rep.Connected++
		}
		c.mu.Lock()
		for k := 1; k <= c.sent; k++ {
			rep.Up.Sent++
			if c.upRecv[k] == 0 {
				rep.Up.Lost++
				continue
			}
			rep.Up.Received++
			up = append(up, diff(c.upSend[k], c.upRecv[k]))
		}
		rep.Up.Duplicates += int64(c.upDup)
		rep.CallSeconds += float64(c.sent) * 0.02
		downFrames := c.down
		c.mu.Unlock()
		rec := c.sess.Load()
		if c.connected && rec == nil {
			rep.Unlinked++
		}
		if rec == nil {
			continue
		}
		rec.mu.Lock()
		seen := make([]bool, len(rec.send))
		for _, d := range downFrames {
			if int(d.seq) >= len(rec.send) || rec.send[d.seq] == 0 {
				continue
			}
			if seen[d.seq] {
				rep.Down.Duplicates++
				continue
			}
			seen[d.seq] = true
			down = append(down, diff(rec.send[d.seq], d.at))
		}
		// The stream is ordered: a frame missing before the last one the
		// caller got was dropped; frames after it were still in flight
		// when the caller hung up.
		last := 0
		for seq := len(seen) - 1; seq > 0; seq-- {
			if seen[seq] {
				last = seq
				break
			}
		}
		for seq, st := range rec.send {
			if st == 0 {
				continue
			}
			if seq > last {
				rep.Down.InFlight++
				continue
			}
			rep.Down.Sent++
			if seen[seq] {
				rep.Down.Received++
			} else {
				rep.Down.Lost++
			}
		}
		rec.mu.Unlock()
	}
	rep.Up.Latency = summarize(up)
	rep.Down.Latency = summarize(down)
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// Print writes the report as a small table.
func (r *LoadReport) Print(w io.Writer) {
	fmt.Fprintf(w, "machine: %s\n", r.Machine)
	fmt.Fprintf(w, "calls: %d connected of %d (ramp %s, %s each, model deltas of %s", r.Connected, r.Calls, r.Ramp, r.Duration, r.ModelDelta)
	if r.ModelAcceptDelay > 0 {
		fmt.Fprintf(w, ", model accepts after %s", r.ModelAcceptDelay)
	}
	if r.EarlyHangups > 0 {
		fmt.Fprintf(w, ", plus %d early hang-ups", r.EarlyHangups)
	}
	fmt.Fprintf(w, "), wall %s\n", r.Wall.Round(time.Millisecond))
	if len(r.FailReasons) > 0 {
		keys := make([]string, 0, len(r.FailReasons))
		for k := range r.FailReasons {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  failed: %d x %s\n", r.FailReasons[k], k)
		}
	}
	fmt.Fprintf(w, "%-16s %9s %9s %6s %5s %9s %9s %9s %9s\n", "direction", "sent", "received", "lost", "dup", "p50", "p90", "p99", "max")
	for _, d := range []struct {
		name string
		d    Direction
	}{{"caller->model", r.Up}, {"model->caller", r.Down}} {
		fmt.Fprintf(w, "%-16s %9d %9d %6d %5d %9s %9s %9s %9s\n", d.name, d.d.Sent, d.d.Received, d.d.Lost, d.d.Duplicates,
			fmtDur(d.d.Latency.P50), fmtDur(d.d.Latency.P90), fmtDur(d.d.Latency.P99), fmtDur(d.d.Latency.Max))
	}
	if r.Down.InFlight > 0 {
		fmt.Fprintf(w, "model frames in flight when callers hung up (not counted): %d\n", r.Down.InFlight)
	}
	if r.Unlinked > 0 {
		fmt.Fprintf(w, "calls whose caller audio never reached the model: %d\n", r.Unlinked)
	}
	fmt.Fprintf(w, "model sessions: %d opened for %d calls; open after the last hang-up: %d", r.SessionsOpened, r.Calls+r.EarlyHangups, r.SessionsLeft)
	if r.SessionsLeft == 0 {
		fmt.Fprintf(w, " (all closed within %s)", r.SessionsClosedIn.Round(time.Millisecond))
	}
	fmt.Fprintln(w)
	if r.Server.PeakRSS > 0 {
		fmt.Fprintf(w, "server CPU: %.2f s in all; steady %.2f s over %s = %.3f ms per call-second (%.3f with call setup)\n",
			r.Server.CPU.Seconds(), r.Server.SteadyCPU.Seconds(), r.Server.SteadyWindow.Round(time.Millisecond), r.CPUPerCallSecond(), r.CPUPerCallSecondAll())
		if r.Server.SteadyWindow > 0 && r.Server.SteadySyscalls > 0 {
			fmt.Fprintf(w, "server read+write system calls: %.0f per call-second\n",
				float64(r.Server.SteadySyscalls)/(float64(r.Calls)*r.Server.SteadyWindow.Seconds()))
		}
		fmt.Fprintf(w, "server RSS: baseline %.1f MiB, peak %.1f MiB (VmHWM %.1f MiB) = %.1f KiB per call\n",
			mib(r.Server.BaselineRSS), mib(r.Server.PeakRSS), mib(r.Server.HWM), float64(r.RSSPerCall())/1024)
	}
	fmt.Fprintf(w, "generator CPU: %.2f s\n", r.Generator.CPU.Seconds())
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return d.Round(100 * time.Microsecond).String()
	}
}
