package relay

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/tokenbucket"
)

// Per-call limits.
const (
	twilioReadLimit   = 64 << 10 // hard cap: a policy violation (1008, audited)
	twilioMsgLimit    = 16 << 10 // soft cap: counted as a protocol error
	maxFrameBytes     = 4096     // decoded media payload cap (a frame is 160)
	twilioReadTimeout = 30 * time.Second
	modelQueueLen     = 64 // ~1.2 s of caller audio: the pre-model buffer
	twilioQueueLen    = 32 // deltas: the model reader writes to Twilio itself; this holds what comes after the end
	maxProtocolErrors = 5
	msgRatePerSec     = 100
	msgBurst          = 200
	goodbyeGrace      = 15 * time.Second
	cleanupTimeout    = 5 * time.Second
)

// endReason says why a call ended; it picks the close code, whether the
// caller is told, and whether the call is hung up through Twilio.
type endReason string

// End reasons, as logged and published.
const (
	endStop           endReason = "stream_stopped"
	endTwilioClosed   endReason = "caller_disconnected"
	endModelFailed    endReason = "model_unavailable"
	endModelClosed    endReason = "model_disconnected"
	endSessionExpired endReason = "session_expired"
	endPolicy         endReason = "policy_violation"
	endMaxDuration    endReason = "max_duration"
	endIdle           endReason = "idle_timeout"
	endAgent          endReason = "agent_ended"
	endShutdown       endReason = "shutdown"
	endTransferred    endReason = "transferred"
	// endBudget (budget.go): the call exceeded its per-call budget.
)

func (e endReason) closeCode() int {
	switch e {
	case endPolicy:
		return websocket.ClosePolicyViolation
	case endShutdown:
		return websocket.CloseGoingAway
	case endModelFailed, endModelClosed, endSessionExpired:
		return websocket.CloseTryAgainLater
	}
	return websocket.CloseNormalClosure
}

// announcement is what the caller hears when the agent cannot say it
// itself; "" for none.
func (e endReason) announcement() string {
	switch e {
	case endModelFailed:
		return "Sorry, the assistant is not available right now. Please call again later. Goodbye."
	case endModelClosed, endSessionExpired, endShutdown, endPanic, endBudget:
		return "Sorry, the assistant has to end this call now. Please call again. Goodbye."
	}
	return ""
}

// hangsUp reports whether the call is ended through Twilio REST (after the
// agent's goodbye) rather than by Twilio itself.
func (e endReason) hangsUp() bool {
	return e == endAgent || e == endMaxDuration || e == endIdle
}

// Call is one media stream and its model session: what its goroutines
// share. Each socket's reader owns a half of the call that no other
// goroutine can reach (twilioHalf, modelHalf: created by the reader and
// never stored here); everything in Call is set before its goroutines
// start, atomic, a channel, a concurrency-safe type, or lineState, whose
// fields only its locking methods reach.
type Call struct {
	r        *Relay
	callSID  string
	remoteIP string
	log      *slog.Logger
	begin    time.Time
	agent    *Profile // the call's agent (nil: the environment's); set before run
	budget   Budget

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the call's goroutines but its own (which runs teardown)
	reason atomic.Pointer[endReason]

	spawnMu sync.Mutex
	closing bool // teardown waits for wg: start no more goroutines

	tw    *peer // the Twilio socket and its send queue
	model *peer // the model socket (attached when the session opens) and its send queue
	state lineState

	lastActivity atomic.Int64 // unix ns of the last speech, agent audio or key press
	modelReady   atomic.Bool  // the model socket is attached and being written
	transferred  atomic.Bool  // the call went on to a conference or forward
	errReports   atomic.Int32 // error events published so far
	stats        callStats    // what the call's details report (stats.go)
	budgetHit    atomic.Bool  // overBudget ran: the call is ending
	transfers    atomic.Int32 // transfers started and not failed
	received     received     // messages read, stored by each half as it exits
	logs         logSampler
	events       eventLimiter
}

// received counts the messages each half read; each half stores its own
// count once, when its reader ends, and teardown reads them after.
type received struct {
	twilio, model atomic.Int64
}

func (r *Relay) newCall(conn *websocket.Conn, callSID, remoteIP string) *Call {
	c := &Call{
		r:        r,
		callSID:  callSID,
		remoteIP: remoteIP,
		log:      r.log.With("call_sid", callSID),
		begin:    time.Now(),
		budget:   r.budget,
	}
	c.logs.n = int32(r.budget.LogLines)
	c.events.bucket = tokenbucket.New(float64(r.budget.EventsPerSecond), r.budget.EventBurst)
	c.ctx, c.cancel = context.WithCancel(r.ctx)
	c.tw = newPeer("twilio", twilioQueueLen, r.budget.QueueBytes, r.pool, r.toTw)
	c.tw.conn = conn
	if conn != nil {
		c.tw.batch = batchOf(conn.NetConn())
	}
	c.model = newPeer("model", modelQueueLen, r.budget.QueueBytes, r.pool, r.toAI)
	c.lastActivity.Store(c.begin.UnixNano())
	return c
}

// FrameBytes is one 20 ms mu-law frame, the unit sent to Twilio.
const FrameBytes = 160

// end records why the call ends (the first reason wins) and stops it.
func (c *Call) end(why endReason) {
	if c.reason.CompareAndSwap(nil, &why) {
		c.cancel()
	}
}

func (c *Call) endReason() endReason {
	if p := c.reason.Load(); p != nil {
		return *p
	}
	return endShutdown
}

func (c *Call) run() {
	stop := c.start()
	defer stop()
	c.contain("twilio_reader", c.readTwilio)
	<-c.ctx.Done() // the reader returns only after the call ended (contained panics end it too)
	c.contain("teardown", c.teardown)
}

// start sets the call going: the Twilio socket's deadlines and writer,
// the model's goroutine, the watchdog. The returned function stops the
// hook that ends the Twilio read when the call ends. (Apart from run, so
// its frame is not under every call the Twilio reader makes.)
func (c *Call) start() (stop func() bool) {
	c.r.m.ActiveCalls.Inc()
	conn := c.tw.conn
	// No gorilla read limit: it would answer an oversized message with its
	// own 1009 before the relay could close with 1008 and audit it.
	// readMessage enforces twilioReadLimit instead, reading no further.
	_ = conn.SetReadDeadline(time.Now().Add(twilioReadTimeout))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(twilioReadTimeout))
	})
	c.tw.attach(c.ctx, c.spawner("twilio_writer"), func(err error) {
		c.log.Debug("twilio write failed", "err", err)
		c.end(endTwilioClosed)
	})
	c.spawner("model")(c.connectModel)
	every(c.ctx, c.watchdogTick(), func() { c.contain("watchdog", c.watchdog) })
	// The call's own goroutine reads the Twilio socket (two goroutines per
	// call: this one and the model's reader). A call that ends for another
	// reason stops the reading at once, so teardown can run.
	return context.AfterFunc(c.ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
}

// connectModel takes the pre-warmed session or opens one, then runs the
// model's writer and reader.
func (c *Call) connectModel() {
	sess := c.r.takeWarm(c.ctx, c.callSID, c.agent)
	if sess == nil {
		if c.ctx.Err() != nil {
			return
		}
		var err error
		aside(func() { sess, err = c.r.dialModel(c.ctx, c.agent) })
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Error("cannot open the model session", "err", err)
				c.reportError(sourceModel, string(endModelFailed), "the model session could not be opened", true)
				c.end(endModelFailed)
			}
			return
		}
	}
	// The model peer's socket is set before its writer starts (and the
	// writer is its only user); attach fails once the call has ended, and
	// then teardown will not see the session, so it is closed here.
	c.model.conn, c.model.batch = sess.conn, sess.batch
	if !c.state.attach(c.ctx, sess) {
		sess.close()
		return
	}
	c.model.attach(c.ctx, c.spawner("model_writer"), func(err error) {
		if c.ctx.Err() == nil {
			// (After the call ended, a write can only fail because
			// teardown closed the socket: that is no model failure.)
			c.log.Warn("model write failed", "err", err)
			c.reportError(sourceModel, string(endModelClosed), "writing to the model socket failed", true)
			c.end(endModelClosed)
		}
	})
	c.modelReady.Store(true)
	c.readModel(sess.conn)
}

// spawner returns a function that starts fn as a goroutine of the call,
// waited for by teardown (a panic contained as where). Once teardown has
// begun waiting, nothing more is started: what a late sender queued is
// released by teardown.
func (c *Call) spawner(where string) func(fn func()) {
	return func(fn func()) {
		c.spawnMu.Lock()
		defer c.spawnMu.Unlock()
		if c.closing {
			return
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.contain(where, fn)
		}()
	}
}

// watchdogTick is how often the watchdog looks at the call's limits.
func (c *Call) watchdogTick() time.Duration {
	maxDuration, idleTimeout := c.limits()
	return max(min(time.Second, maxDuration/4, idleTimeout/4), 10*time.Millisecond)
}

// watchdog ends the call at MAX_CALL_DURATION or after CALL_IDLE_TIMEOUT
// (or the call's agent's shorter limits) without speech, agent audio or
// key presses, after a goodbye. It runs on a timer every watchdogTick.
func (c *Call) watchdog() {
	maxDuration, idleTimeout := c.limits()
	now := time.Now()
	switch {
	case now.Sub(c.begin) >= maxDuration:
		c.goodbye(endMaxDuration, "The call has reached its time limit. Tell the caller politely and say goodbye.")
	case now.Sub(time.Unix(0, c.lastActivity.Load())) >= idleTimeout:
		c.goodbye(endIdle, "The line has been quiet for a while. Say goodbye politely.")
	}
	if reason, deadline := c.state.goodbye(); reason != "" && now.After(deadline) {
		c.end(reason)
	}
}

// every runs fn every d on a timer until ctx ends: no goroutine waits
// between runs (the timer starts one for each run), and runs never overlap.
func every(ctx context.Context, d time.Duration, fn func()) {
	var t atomic.Pointer[time.Timer]
	tm := time.AfterFunc(time.Duration(math.MaxInt64), func() {
		if ctx.Err() != nil {
			return
		}
		fn()
		if ctx.Err() == nil {
			t.Load().Reset(d)
		}
	})
	t.Store(tm)
	tm.Reset(d)
	context.AfterFunc(ctx, func() { tm.Stop() })
}

// teardown runs once, on the call's own goroutine, after the context
// ended and the Twilio reader returned: each step below is one job, in
// this order.
func (c *Call) teardown() {
	why := c.endReason()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	c.endThroughTwilio(ctx, why)
	sess := c.closeSockets(why)
	c.releaseQueues()
	c.auditMessageCounts(sess)
	// The measurements are stored before the end is recorded, so whoever
	// reads the call's details once it has ended finds them.
	c.saveStats(ctx)
	why, announce := c.recordEnd(ctx, why)
	c.reportEnd(why, announce, sess != nil)
}

// endThroughTwilio tells the caller why the call ends when the agent
// cannot, or hangs the call up after the agent's goodbye, through Twilio
// REST (before the stream closes, so Twilio does not move on first); the
// reason is recorded first, so the status callback the hang-up causes
// keeps it.
func (c *Call) endThroughTwilio(ctx context.Context, why endReason) {
	tel := c.r.Telephony
	if tel == nil {
		return
	}
	if why.announcement() != "" || why.hangsUp() {
		c.recordEnding(ctx, why)
	}
	var err error
	if msg := why.announcement(); msg != "" {
		err = tel.SayAndHangup(ctx, agentActor, c.callSID, msg)
	} else if why.hangsUp() {
		err = tel.EndCall(ctx, agentActor, c.callSID)
	}
	if err != nil {
		c.log.Warn("ending the call through Twilio failed", "reason", string(why), "err", err)
	}
}

// closeSockets closes the Twilio socket with the reason's close code and
// the model session, then waits for every goroutine of the call (each
// half zeroes its own buffers and stores its counts as its reader ends).
// It returns the model session, nil when none was attached.
func (c *Call) closeSockets(why endReason) *modelSession {
	c.tw.closeWith(why.closeCode(), string(why))
	sess := c.state.session()
	sess.close()
	c.spawnMu.Lock()
	c.closing = true
	c.spawnMu.Unlock()
	c.wg.Wait()
	return sess
}

// releaseQueues returns what is still queued to either socket (buffers
// that held audio are zeroed on release). gorilla/websocket's internal
// buffers cannot be zeroed: each connection's bufio read buffer and the
// pooled write buffers (of an unexported type) hold frames of base64
// audio and are unreachable from here; they are small (2-4 KiB) and
// overwritten by the next frames that pass through them.
func (c *Call) releaseQueues() {
	c.tw.drain()
	c.model.drain()
}

// reportEnd updates the metrics, publishes stream.stopped (and
// call.ended when announce), audits the cleanup and logs the end.
func (c *Call) reportEnd(why endReason, announce, hadModel bool) {
	dur := time.Since(c.begin)
	m := c.r.m
	m.ActiveCalls.Dec()
	m.CallDuration.Observe(dur.Seconds())
	m.WebSocketCloses.WithLabelValues("twilio", string(why)).Inc()
	if hadModel {
		m.WebSocketCloses.WithLabelValues("model", string(why)).Inc()
	}
	c.r.publish(events.StreamStopped, c.callSID, map[string]any{"reason": string(why)})
	if announce {
		c.r.publish(events.CallEnded, c.callSID, map[string]any{"durationSec": int(dur.Seconds()), "status": string(why)})
	}
	c.r.audit(audit.Event{Type: audit.TypeResourceCleanup, CallSID: c.callSID, Actor: "relay",
		Detail: map[string]any{"reason": string(why), "durationSec": int(dur.Seconds())}})
	lvl := slog.LevelInfo
	if why == endModelFailed || why == endModelClosed || why == endSessionExpired || why == endPolicy || why == endBudget {
		lvl = slog.LevelWarn
	}
	c.log.Log(context.Background(), lvl, "call ended", "reason", string(why), "duration_ms", dur.Milliseconds(),
		"log_lines_suppressed", c.logs.suppressed.Load(), "events_dropped", c.eventsDropped())
}

func (c *Call) eventsDropped() int {
	c.events.mu.Lock()
	defer c.events.mu.Unlock()
	return c.events.dropped
}
