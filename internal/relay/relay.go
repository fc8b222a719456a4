// Package relay connects a Twilio Media Streams socket to an
// OpenAI-compatible Realtime session: caller audio to the model, model
// audio back to the caller with barge-in, the tools the model may call,
// transcripts, limits and cleanup. It does not listen: the HTTP layer
// authenticates and upgrades the request and hands the socket to Serve.
//
// Each stream is one Call with its own goroutines (a reader and a writer
// per socket, a watchdog, tool runs) and bounded queues, so nothing one
// call does can stall another. There is no package-level state.
package relay

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/metrics"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// Auditor records audit events without blocking (audit.Recorder).
type Auditor interface {
	Record(ev audit.Event)
}

// CallRecords is the part of the inbound-calls service the relay updates.
type CallRecords interface {
	MarkStreamStarted(ctx context.Context, callSID string) error
	// EndCall records the end of the call's stream as the end of the
	// call (see voice.EndCall: the first end wins; the result says whether
	// to announce it, or that the call was handed over and lives on).
	EndCall(ctx context.Context, e voice.CallEnd) (voice.EndResult, error)
	// EndingCall records why the call is about to end before the relay
	// asks Twilio to hang up.
	EndingCall(ctx context.Context, e voice.CallEnd) error
}

// Deps are the relay's collaborators. Config, Log and Metrics are
// required; every other field may be nil, which turns its feature off.
type Deps struct {
	Config  *config.Config
	Log     *slog.Logger
	Metrics *metrics.Metrics
	Audit   Auditor
	Events  events.Publisher
	Calls   CallRecords
	// Transcripts stores transcript lines (written in the background).
	Transcripts TranscriptStore
	// StatsStore keeps each call's tool calls, latencies and token usage
	// (written once, when the stream ends).
	StatsStore StatsStore
	Directory  Directory
	Telephony  Telephony
	DenyList   DenyList
	// Agents resolves each call's agent and runs its HTTP tools (nil:
	// every call is answered by the environment's agent).
	Agents Agents
	// Dialer opens Realtime sockets; nil means a default dialer.
	Dialer *websocket.Dialer
	// Budget is what each call may use; the zero value means
	// DefaultBudget().
	Budget Budget
}

// Relay runs media-stream calls. It is safe for concurrent use.
type Relay struct {
	Deps
	cfg      *config.Config
	log      *slog.Logger
	m        *metrics.Metrics
	dialer   *websocket.Dialer
	upgrader *websocket.Upgrader
	pool     *bufPool
	budget   Budget
	batches  *sync.Pool // write batches of every call's sockets
	toTw     peerMetrics
	toAI     peerMetrics

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // calls and pre-warms

	mu      sync.Mutex
	calls   map[*Call]struct{}
	closed  bool
	changed chan struct{} // closed and replaced whenever calls changes
	warm    map[string]*warmSession

	transcripts *transcriptWriter
}

// New builds a relay. Call Close when done.
func New(d Deps) *Relay {
	if d.Events == nil {
		d.Events = events.Discard{}
	}
	r := &Relay{
		Deps:     d,
		cfg:      d.Config,
		log:      d.Log.With("component", "relay"),
		m:        d.Metrics,
		dialer:   d.Dialer,
		upgrader: newUpgrader(),
		pool:     newBufPool(),
		budget:   d.Budget,
		batches:  newBatchPool(),
		calls:    make(map[*Call]struct{}),
		changed:  make(chan struct{}),
		warm:     make(map[string]*warmSession),
	}
	if r.budget == (Budget{}) {
		r.budget = DefaultBudget()
	}
	if r.dialer == nil {
		r.dialer = &websocket.Dialer{
			Proxy:            http.ProxyFromEnvironment,
			HandshakeTimeout: modelHandshake,
			// Model events are small (a 20-100 ms audio delta is under
			// 2 KB); larger ones stream through the reader. Write buffers
			// are held only while a message is written, so calls share
			// them.
			ReadBufferSize:  4096,
			WriteBufferSize: 4096,
			WriteBufferPool: &sync.Pool{},
		}
	}
	r.toTw = peerMetrics{
		frames:  d.Metrics.FramesRelayed.WithLabelValues("model_to_caller"),
		latency: d.Metrics.RelayLatency.WithLabelValues("model_to_caller"),
	}
	r.toAI = peerMetrics{
		frames:  d.Metrics.FramesRelayed.WithLabelValues("caller_to_model"),
		latency: d.Metrics.RelayLatency.WithLabelValues("caller_to_model"),
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.transcripts = newTranscriptWriter(d.Transcripts, r.log)
	return r
}

// Enabled reports whether the agent can run (an API key is configured).
func (r *Relay) Enabled() bool { return r.cfg.OpenAIAPIKey != "" }

// Live returns the number of calls with a live media stream.
func (r *Relay) Live() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// Serve starts the call on an upgraded Twilio socket and returns; the
// call runs on its own goroutines until it ends and closes the socket
// (Live, Drain and Close track it). Returning at once lets the HTTP
// handler's goroutine, with its deep stack and the server's per-request
// buffers, go away: about a third of a call's memory. callSID is the call
// the one-time stream token was issued for; remoteIP is only used for
// audit events.
func (r *Relay) Serve(conn *websocket.Conn, callSID, remoteIP string) {
	c := r.newCall(conn, callSID, remoteIP)
	c.agent = r.profileFor(r.ctx, callSID)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		c.cancel()
		c.tw.closeWith(websocket.CloseGoingAway, "shutting down")
		r.endUnserved(c)
		return
	}
	r.calls[c] = struct{}{}
	r.wg.Add(1)
	r.notifyLocked()
	r.mu.Unlock()
	go func() {
		defer func() {
			r.mu.Lock()
			delete(r.calls, c)
			r.notifyLocked()
			r.mu.Unlock()
			r.wg.Done()
		}()
		defer func() { // run contains its parts; this is the last net
			if v := recover(); v != nil {
				r.panicked("call", c.callSID, v)
			}
		}()
		c.run()
	}()
}

// endUnserved records the end of a call whose stream arrived after Close:
// it was answered and its stream token spent, so its record must not stay
// live.
func (r *Relay) endUnserved(c *Call) {
	if r.Calls != nil {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if _, err := r.Calls.EndCall(ctx, c.callEnd(endShutdown)); err != nil {
			c.log.Warn("recording the call end failed", "err", err)
		}
	}
	r.publish(events.CallEnded, c.callSID, map[string]any{"durationSec": 0, "status": string(endShutdown)})
	c.log.Info("media stream refused: shutting down")
}

func (r *Relay) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Drain waits until no call is live or ctx ends. New streams are still
// served while draining: their calls were already answered.
func (r *Relay) Drain(ctx context.Context) {
	for {
		r.mu.Lock()
		n, ch := len(r.calls), r.changed
		r.mu.Unlock()
		if n == 0 {
			return
		}
		r.log.Info("draining live calls", "calls", n)
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// Close ends every live call (the caller is told briefly when telephony is
// configured), closes pre-warmed sessions, flushes transcripts and waits
// for every goroutine the relay started.
func (r *Relay) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	calls := make([]*Call, 0, len(r.calls))
	for c := range r.calls {
		calls = append(calls, c)
	}
	r.mu.Unlock()
	for _, c := range calls {
		c.end(endShutdown)
	}
	r.cancel() // pre-warmed sessions close themselves
	r.wg.Wait()
	r.transcripts.close()
}

// publish sends a live event; the publisher never blocks.
func (r *Relay) publish(typ, callSID string, data map[string]any) {
	r.Events.Publish(events.Event{Type: typ, CallSID: callSID, Time: time.Now().UTC(), Data: data})
}

func (r *Relay) audit(ev audit.Event) {
	if r.Audit != nil {
		r.Audit.Record(ev)
	}
}
