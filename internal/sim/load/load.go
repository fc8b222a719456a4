package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/sim"
)

// LoadOptions configure a call load run.
type LoadOptions struct {
	// Calls is the number of concurrent calls.
	Calls int
	// Duration is how long each call streams probe frames both ways.
	Duration time.Duration
	// Ramp spreads the calls' starts evenly over this time.
	Ramp time.Duration
	// ModelAcceptDelay holds every model socket upgrade this long, to show
	// no caller frame is lost while the model connects (target d).
	ModelAcceptDelay time.Duration
	// ModelDelta is the audio per model delta (default 20 ms, one frame:
	// the worst case for the relay; real models send larger deltas).
	ModelDelta time.Duration
	// EarlyHangups adds calls that hang up right after their stream
	// opens, while the model may still be connecting (target e).
	EarlyHangups int
	// RealtimeListener, when set, is where the fake model listens.
	RealtimeListener net.Listener
	// Progress receives a line per phase (nil: none).
	Progress io.Writer
}

// Load is a call load generator with its own fake Realtime model, which
// the server under test must use (RealtimeURL).
type Load struct {
	opts LoadOptions
	rt   *fake.Realtime
	rec  *recorder
}

// NewLoad starts the fake model for a run: paced (one 20 ms probe frame
// every 20 ms, continuously, as the greeting of every call), recording no
// audio.
func NewLoad(o LoadOptions) (*Load, error) {
	if o.Calls <= 0 || o.Calls+o.EarlyHangups > MaxLoadCalls {
		return nil, fmt.Errorf("calls must be 1-%d in all", MaxLoadCalls)
	}
	if o.Duration < time.Second {
		return nil, errors.New("duration must be at least 1s")
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.ModelDelta <= 0 {
		o.ModelDelta = 20 * time.Millisecond
	}
	if o.ModelDelta%(20*time.Millisecond) != 0 || o.ModelDelta > 2*time.Second {
		return nil, errors.New("model delta must be a multiple of 20ms, at most 2s")
	}
	chunk := int(o.ModelDelta/(20*time.Millisecond)) * fake.FrameBytes
	l := &Load{opts: o, rec: &recorder{clk: clock{base: time.Now()}}}
	frames := int(o.Duration/(20*time.Millisecond)) + 1
	for i := range o.Calls + o.EarlyHangups {
		l.rec.calls = append(l.rec.calls, &loadCall{idx: i, early: i >= o.Calls})
		if i < o.Calls {
			c := l.rec.calls[i]
			c.upSend = make([]uint32, frames+1)
			c.upRecv = make([]uint32, frames+1)
			c.down = make([]downFrame, 0, frames+64)
		} else {
			l.rec.calls[i].upRecv = make([]uint32, 64)
			l.rec.calls[i].upSend = make([]uint32, 64)
		}
	}
	l.rt = fake.NewRealtime(fake.RealtimeOptions{
		Paced:           true,
		ChunkBytes:      chunk,
		Chunks:          frames*fake.FrameBytes/chunk + 500, // longer than the call: continuous audio
		ProbeAudio:      true,
		DiscardAudio:    true,
		AcceptDelay:     o.ModelAcceptDelay,
		OnAudioAppended: l.rec.onAppended,
		OnAudioSent:     l.rec.onSent,
		Listener:        o.RealtimeListener,
	})
	return l, nil
}

// RealtimeURL is the fake model's address, for the server's REALTIME_URL.
func (l *Load) RealtimeURL() string { return l.rt.URL() }

// Close stops the fake model.
func (l *Load) Close() { l.rt.Close() }

func (l *Load) logf(format string, args ...any) {
	fmt.Fprintf(l.opts.Progress, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// Run places the calls against t and measures them; pid, when > 0, is the
// server process whose CPU time and memory are read from /proc.
func (l *Load) Run(ctx context.Context, t sim.Target, pid int) (*LoadReport, error) {
	rep := &LoadReport{Calls: l.opts.Calls, Duration: l.opts.Duration, Ramp: l.opts.Ramp,
		EarlyHangups: l.opts.EarlyHangups, ModelAcceptDelay: l.opts.ModelAcceptDelay, ModelDelta: l.opts.ModelDelta, Machine: sim.ThisMachine(), FailReasons: map[string]int{}}
	if t.HTTP == nil {
		t.HTTP = sim.NewHTTPClient(min(l.opts.Calls, 512))
	}
	mon := newMonitor(pid)
	defer mon.stop()
	genStart, _ := sim.ReadProc(os.Getpid())
	base, err := mon.read()
	if err != nil && pid > 0 {
		return nil, err
	}
	rep.Server.BaselineRSS = base.RSS

	var connected atomic.Int64
	var steadyOnce, stopOnce sync.Once
	var steadyA, steadyB sim.ProcSample
	steadyStart := make(chan struct{})
	n := l.opts.Calls
	var wg sync.WaitGroup
	start := time.Now()
	l.logf("ramping %d calls over %s, each streaming %s", n, l.opts.Ramp, l.opts.Duration)
	for i, c := range l.rec.calls {
		var at time.Duration
		if total := len(l.rec.calls); total > 1 {
			at = l.opts.Ramp * time.Duration(i) / time.Duration(total)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !sleepCtx(ctx, time.Until(start.Add(at))) {
				c.err, c.stage = ctx.Err(), "start"
				return
			}
			onConnected := func() {
				if !c.early && connected.Add(1) == int64(n) {
					steadyOnce.Do(func() { steadyA, _ = mon.read(); close(steadyStart) })
				}
			}
			onDone := func() {
				stopOnce.Do(func() { steadyB, _ = mon.read() })
			}
			l.runCall(ctx, t, c, onConnected, onDone)
		}()
	}
	wg.Wait()
	lastHangup := time.Now()
	l.logf("all calls ended; waiting for the server to close every model session")
	wctx, cancel := context.WithTimeout(ctx, l.opts.ModelAcceptDelay+15*time.Second)
	err = l.rt.WaitFor(wctx, func() bool { return l.rt.OpenSessions() == 0 })
	cancel()
	if err == nil {
		rep.SessionsClosedIn = time.Since(lastHangup)
		// A model socket still being accepted is not open yet: wait out
		// the accept delay and look again.
		sleepCtx(ctx, l.opts.ModelAcceptDelay+500*time.Millisecond)
	}
	rep.SessionsLeft = l.rt.OpenSessions()
	rep.SessionsOpened = len(l.rt.Sessions())
	end, _ := mon.read()
	genEnd, _ := sim.ReadProc(os.Getpid())
	rep.Generator.CPU = genEnd.CPU - genStart.CPU
	rep.Wall = time.Since(start)
	rep.Server.CPU = end.CPU - base.CPU
	rep.Server.PeakRSS = mon.peak()
	rep.Server.HWM = end.HWM
	select {
	case <-steadyStart:
		if !steadyB.At.IsZero() && steadyB.At.After(steadyA.At) {
			rep.Server.SteadyWindow = steadyB.At.Sub(steadyA.At)
			rep.Server.SteadyCPU = steadyB.CPU - steadyA.CPU
			rep.Server.SteadySyscalls = (steadyB.SysR - steadyA.SysR) + (steadyB.SysW - steadyA.SysW)
		}
	default:
	}
	l.analyze(rep)
	return rep, nil
}

// runCall is one call: answer, stream Duration of probe frames at 20 ms,
// wait for the last frames, hang up and report completion.
func (l *Load) runCall(ctx context.Context, t sim.Target, c *loadCall, onConnected, onDone func()) {
	from := fmt.Sprintf("+1555%07d", 1000000+c.idx)
	a, err := t.Place(ctx, from, t.CalledNumber)
	if err == nil && a.Decision() != "stream" {
		err = fmt.Errorf("answered with %s", a.Decision())
	}
	if err != nil {
		c.err, c.stage = err, "answer"
		return
	}
	mc, err := t.Connect(ctx, a, fake.MediaOptions{DiscardAudio: true, OnMedia: l.rec.onMedia(c)})
	if err != nil {
		c.err, c.stage = err, "stream"
		_ = t.Status(context.WithoutCancel(ctx), a.Params, "failed", 0)
		return
	}
	c.connected = true
	onConnected()
	callStart := time.Now()
	frames := len(c.upSend) - 1
	if c.early {
		frames = 5
	}
	tick := time.NewTicker(20 * time.Millisecond)
	for k := 1; k <= frames; k++ {
		c.upSend[k] = l.rec.clk.stamp(time.Now())
		if err := mc.SendProbe(probeSeq(c.idx, k)); err != nil {
			c.err, c.stage = err, "send"
			break
		}
		c.sent = k
		if k == frames {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			k = frames
		case <-mc.Done():
			c.err, c.stage = errors.New("server closed the stream"), "send"
			k = frames
		}
	}
	tick.Stop()
	if !c.early {
		onDone()
		// Let the last caller frames reach the model before hanging up
		// (under saturation they can be seconds behind).
		deadline := time.Now().Add(10 * time.Second)
		for c.upRecvN.Load() < int64(c.sent) && time.Now().Before(deadline) && !mc.Closed() {
			time.Sleep(10 * time.Millisecond)
		}
	}
	c.stopAt = l.rec.clk.stamp(time.Now())
	_ = mc.Stop()
	_ = t.Status(context.WithoutCancel(ctx), a.Params, "completed", int(time.Since(callStart).Seconds()))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// monitor samples the server process twice a second for its peak RSS.
type monitor struct {
	pid  int
	mu   sync.Mutex
	max  int64
	quit chan struct{}
	done chan struct{}
}

func newMonitor(pid int) *monitor {
	m := &monitor{pid: pid, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.quit:
				return
			case <-t.C:
				_, _ = m.read()
			}
		}
	}()
	return m
}

func (m *monitor) read() (sim.ProcSample, error) {
	if m.pid <= 0 {
		return sim.ProcSample{At: time.Now()}, nil
	}
	s, err := sim.ReadProc(m.pid)
	if err == nil {
		m.mu.Lock()
		m.max = max(m.max, s.RSS)
		m.mu.Unlock()
	}
	return s, err
}

func (m *monitor) peak() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.max
}

func (m *monitor) stop() {
	close(m.quit)
	<-m.done
}
