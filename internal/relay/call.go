package relay

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/events"
)

// Per-call limits.
const (
	twilioReadLimit   = 64 << 10 // hard cap: a policy violation (1008, audited)
	twilioMsgLimit    = 16 << 10 // soft cap: counted as a protocol error
	maxFrameBytes     = 4096     // decoded media payload cap (a frame is 160)
	twilioReadTimeout = 30 * time.Second
	modelQueueLen     = 64  // ~1.2 s of caller audio: the pre-model buffer
	twilioQueueLen    = 256 // batches (one per model delta)
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

// Call is one media stream and its model session.
type Call struct {
	r        *Relay
	callSID  string
	remoteIP string
	log      *slog.Logger
	begin    time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	reason atomic.Pointer[endReason]

	tw    *peer
	model *peer

	agent *Profile // the call's agent (nil: the environment's); set before run

	lastActivity atomic.Int64 // unix ns of the last speech, agent audio or key press
	modelReady   atomic.Bool  // the model socket is attached and being written
	transferred  atomic.Bool  // the call went on to a conference or forward
	errReports   atomic.Int32 // error events published so far
	counts       messageCounts
	stats        callStats // what the call's details report (stats.go)
	budget       Budget
	budgetHit    atomic.Bool  // overBudget ran: the call is ending
	transfers    atomic.Int32 // transfers started and not failed
	logs         logSampler
	events       eventLimiter
	toolQ        chan modelItem // function calls for the call's tool workers

	// Twilio reader only.
	msg       twilioMsg
	scratch   []byte
	limiter   rateLimiter
	protoErrs int
	dropsIn   int

	// Model reader only.
	ev            modelEvent
	audio         []byte
	carry         []byte
	carryItem     string
	agentItem     string
	agentText     strings.Builder
	toolsSeen     map[string]bool
	toolsResp     int // function calls of the current response
	toolWorkers   int // tool workers started
	modelErrors   int // error events from the model
	transcriptIn  int // transcript text received (deltas and finals)
	transcriptOut int // transcript bytes handed to the store

	mu         sync.Mutex
	pb         playback
	started    bool
	streamSID  string
	streamSIDb []byte
	modelSess  *modelSession
	resp       responseState
}

// responseState follows the one-active-response rule and the goodbye.
type responseState struct {
	active          bool
	awaitingCreated bool   // a response.create was sent; no response.created or refusal yet
	createSeq       int    // numbers the event_ids of response.create
	createID        string // event_id of the last response.create, until refused
	want            bool
	wantInstr       string
	wantGoodbye     bool
	lastInstr       string
	lastGoodbye     bool

	goodbyeReason   endReason
	goodbyeDeadline time.Time
	goodbyeResp     string // id of the response.created tagged as the goodbye
	hangupArmed     bool
}

func (r *Relay) newCall(conn *websocket.Conn, callSID, remoteIP string) *Call {
	c := &Call{
		r:         r,
		callSID:   callSID,
		remoteIP:  remoteIP,
		log:       r.log.With("call_sid", callSID),
		begin:     time.Now(),
		scratch:   make([]byte, maxFrameBytes),
		carry:     make([]byte, 0, FrameBytes),
		toolsSeen: make(map[string]bool),
		limiter:   rateLimiter{rate: msgRatePerSec, burst: msgBurst},
		budget:    r.budget,
		toolQ:     make(chan modelItem, r.budget.ToolCallsPerCall),
	}
	c.logs.n = int32(r.budget.LogLines)
	c.events.bucket = rateLimiter{rate: float64(r.budget.EventsPerSecond), burst: float64(r.budget.EventBurst)}
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
	c.r.m.ActiveCalls.Inc()
	conn := c.tw.conn
	// No gorilla read limit: it would answer an oversized message with its
	// own 1009 before the relay could close with 1008 and audit it.
	// readMessage enforces twilioReadLimit instead, reading no further.
	_ = conn.SetReadDeadline(time.Now().Add(twilioReadTimeout))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(twilioReadTimeout))
	})
	c.wg.Add(3)
	go func() {
		defer c.wg.Done()
		c.contain("twilio_writer", func() {
			if err := c.tw.writeLoop(c.ctx); err != nil {
				c.log.Debug("twilio write failed", "err", err)
				c.end(endTwilioClosed)
			}
		})
	}()
	go func() { defer c.wg.Done(); c.contain("twilio_reader", c.readTwilio) }()
	go func() { defer c.wg.Done(); c.contain("model", c.connectModel) }()
	// The call's own goroutine keeps the clock (one goroutine stack less
	// per call) until the call ends.
	c.contain("watchdog", c.watchdog)
	c.contain("teardown", c.teardown)
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
		sess, err = c.r.dialModel(c.ctx, c.agent)
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Error("cannot open the model session", "err", err)
				c.reportError(sourceModel, string(endModelFailed), "the model session could not be opened", true)
				c.end(endModelFailed)
			}
			return
		}
	}
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		sess.close()
		return
	}
	c.modelSess = sess
	c.model.conn = sess.conn
	c.model.batch = sess.batch
	c.mu.Unlock()
	c.modelReady.Store(true)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { // contain, as c.contain does, without re-indenting
			if v := recover(); v != nil {
				c.r.panicked("model_writer", c.callSID, v)
				c.end(endPanic)
			}
		}()
		if err := c.model.writeLoop(c.ctx); err != nil && c.ctx.Err() == nil {
			// (After the call ended, a write can only fail because
			// teardown closed the socket: that is no model failure.)
			c.log.Warn("model write failed", "err", err)
			c.reportError(sourceModel, string(endModelClosed), "writing to the model socket failed", true)
			c.end(endModelClosed)
		}
	}()
	c.readModel(sess.conn)
}

// watchdog ends the call at MAX_CALL_DURATION or after CALL_IDLE_TIMEOUT
// (or the call's agent's shorter limits) without speech, agent audio or key presses, after a goodbye.
func (c *Call) watchdog() {
	maxDuration, idleTimeout := c.limits()
	tick := min(time.Second, maxDuration/4, idleTimeout/4)
	t := time.NewTicker(max(tick, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case now := <-t.C:
			switch {
			case now.Sub(c.begin) >= maxDuration:
				c.goodbye(endMaxDuration, "The call has reached its time limit. Tell the caller politely and say goodbye.")
			case now.Sub(time.Unix(0, c.lastActivity.Load())) >= idleTimeout:
				c.goodbye(endIdle, "The line has been quiet for a while. Say goodbye politely.")
			}
			c.mu.Lock()
			reason, deadline := c.resp.goodbyeReason, c.resp.goodbyeDeadline
			c.mu.Unlock()
			if reason != "" && now.After(deadline) {
				c.end(reason)
			}
		}
	}
}

// teardown runs once, on the call's own goroutine, after the context ended.
func (c *Call) teardown() {
	why := c.endReason()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if tel := c.r.Telephony; tel != nil {
		var err error
		if why.announcement() != "" || why.hangsUp() {
			c.recordEnding(ctx, why)
		}
		if msg := why.announcement(); msg != "" {
			err = tel.SayAndHangup(ctx, c.callSID, msg)
		} else if why.hangsUp() {
			err = tel.EndCall(ctx, c.callSID)
		}
		if err != nil {
			c.log.Warn("ending the call through Twilio failed", "reason", string(why), "err", err)
		}
	}
	c.tw.closeWith(why.closeCode(), string(why))
	c.mu.Lock()
	sess := c.modelSess
	c.mu.Unlock()
	sess.close()
	c.wg.Wait()

	// Release and zero every buffer that held audio (the readers zero
	// their own read buffers as they exit). gorilla/websocket's internal
	// buffers cannot be zeroed: each connection's bufio read buffer and
	// the pooled write buffers (of an unexported type) hold frames of
	// base64 audio and are unreachable from here; they are small (2-4 KiB)
	// and overwritten by the next frames that pass through them.
	c.tw.drain()
	c.model.drain()
	clear(c.scratch)
	clear(c.audio[:cap(c.audio)])
	clear(c.carry[:cap(c.carry)])
	c.scratch, c.audio, c.carry = nil, nil, nil
	c.flushAgentText()
	c.auditMessageCounts(sess)

	// The measurements are stored before the end is recorded, so whoever
	// reads the call's details once it has ended finds them.
	c.saveStats(ctx)
	why, announce := c.recordEnd(ctx, why)
	dur := time.Since(c.begin)
	m := c.r.m
	m.ActiveCalls.Dec()
	m.CallDuration.Observe(dur.Seconds())
	m.WebSocketCloses.WithLabelValues("twilio", string(why)).Inc()
	if sess != nil {
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
