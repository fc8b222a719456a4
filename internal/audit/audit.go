// Package audit records who did what: authentication failures, policy
// decisions, list and contact changes, conference actions, erasures. Events
// are queued and written by a background writer so the request path never
// waits on the database.
package audit

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/voiceagent/voiceagent/internal/batch"
	"github.com/voiceagent/voiceagent/internal/panics"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// Event types. Later packages add theirs here so the vocabulary stays in
// one place.
const (
	TypeConnectionAttempt = "connection_attempt"
	// TypeAuthFailure is a refused credential. Successes are logged
	// ("auth-success", with the token's name), never audited: a row per
	// API request would grow without bound.
	TypeAuthFailure = "authentication_failure"
	// TypeMessageReceived and TypeMessageSent are per-call counts, never
	// one row per message: the relay records one of each when a media
	// stream ends, Detail {"twilio": n, "model": n}.
	TypeMessageReceived = "message_received"
	TypeMessageSent     = "message_sent"
	// TypeError is a failure worth keeping: the relay records model
	// errors and a lost model socket (Detail source, code, message).
	TypeError           = "error_occurred"
	TypeResourceCleanup = "resource_cleanup"
	// TypeSecurityAlert is raised by the Recorder's pattern check
	// (pattern.go) and by code that detects an attack itself (the per-IP
	// bearer lockout records one with Detail "alert": AlertAuthLockout).
	// Every one is counted in the security-alert metric; an
	// authentication burst yields one alert whichever raised it first.
	TypeSecurityAlert    = "security_alert"
	TypeCallDecision     = "call_decision"
	TypeCallerListChange = "caller_list_change"
	TypeContactChange    = "contact_change"
	TypeConferenceAction = "conference_action"
	TypeErasure          = "data_erasure"
	TypeConfigCheck      = "config_check"
)

// Scoped API tokens (internal/apitoken): creation and revocation, and a
// request refused because its token lacks the route's scope.
const (
	TypeTokenChange  = "api_token_change"
	TypeAccessDenied = "access_denied"
)

// Agents, numbers and HTTP tools (internal/agents): changes, and each call
// of an HTTP tool (tool, outcome, status, duration; never arguments,
// answers or secrets).
const (
	TypeAgentChange = "agent_change"
	TypeToolCall    = "tool_call"
)

// Outbound calls (internal/outbound): every attempt of POST /api/calls,
// placed or refused (masked number, token name, outcome), and every
// operator end of a call (POST /api/calls/{callSid}/end).
const (
	TypeOutboundCall = "outbound_call"
	TypeCallEnd      = "call_end"
)

// Webhook subscriptions (internal/webhooks): creation, deletion, test
// sends and a subscription disabled by its receiver's 410 (id and action;
// never the secret).
const TypeWebhookChange = "webhook_change"

// Severities.
const (
	Info    = "info"
	Warning = "warn"
)

// Event is one audit row. RemoteIP is masked by the recorder; Detail must
// never hold a token or secret.
type Event struct {
	ID       int64          `json:"id"`
	Type     string         `json:"type"`
	Severity string         `json:"severity"`
	Actor    string         `json:"actor,omitempty"`
	RemoteIP string         `json:"remoteIp,omitempty"`
	CallSID  string         `json:"callSid,omitempty"`
	Detail   map[string]any `json:"detail,omitempty"`
	Time     time.Time      `json:"time"`
}

// Store persists audit events.
type Store interface {
	InsertAuditEvents(ctx context.Context, evs []Event) error
}

// Recorder queues events and writes them in batches (a batch.Writer).
// Record never blocks: when the queue is full the event is logged and
// counted as dropped.
type Recorder struct {
	store  Store
	log    *slog.Logger
	w      *batch.Writer[Event]
	now    func() time.Time
	burst  authBurst
	alerts Counter
	// alertSink is told every security alert (the live-event bus, so the
	// dashboard shows it); it must not block.
	alertSink func(Event)
	// dropCounter counts dropped events (voiceagent_audit_dropped_total);
	// unalerted holds drops not yet reported by a security_alert, which
	// the writer records once the queue has room again.
	dropCounter AddCounter
	unalerted   atomic.Int64
	panicStacks bool // log the stack of a contained panic (development)
}

// Counter is the metric a recorder bumps for each security alert
// (a prometheus.Counter).
type Counter interface{ Inc() }

// AddCounter is a counter that can be raised by more than one (the
// dropped-events metric, a prometheus.Counter).
type AddCounter interface {
	Inc()
	Add(float64)
}

// Option adjusts a Recorder.
type Option func(*Recorder)

// WithAlertCounter counts every security_alert the pattern checks raise.
func WithAlertCounter(c Counter) Option { return func(r *Recorder) { r.alerts = c } }

// WithAlertSink hands every security alert, once recorded, to fn as
// well (for live viewers). fn must not block.
func WithAlertSink(fn func(Event)) Option { return func(r *Recorder) { r.alertSink = fn } }

// WithDropCounter counts every event the full queue drops.
func WithDropCounter(c AddCounter) Option { return func(r *Recorder) { r.dropCounter = c } }

// WithPanicStacks logs the stack of a contained writer panic (development
// only: stacks can hold event data).
func WithPanicStacks(on bool) Option { return func(r *Recorder) { r.panicStacks = on } }

// Sizes of the audit writer: the queue absorbs a burst of refusals and
// decisions; a batch is one transaction.
const (
	queueSize = 4096
	maxBatch  = 256
)

// NewRecorder starts the background writer; call Close to flush and stop.
func NewRecorder(store Store, log *slog.Logger, opts ...Option) *Recorder {
	r := &Recorder{store: store, log: log, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	o := batch.Options[Event]{Write: r.write, QueueSize: queueSize, MaxBatch: maxBatch, Linger: batchLinger,
		Full: r.full, Panic: r.writerPanicked}
	if r.dropCounter != nil {
		o.Dropped = r.dropCounter
	}
	r.w = batch.New(o)
	return r
}

// Record queues ev. The remote IP and every phone number in Detail are
// masked here, once, for every caller.
func (r *Recorder) Record(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = r.now()
	}
	if ev.Severity == "" {
		ev.Severity = Info
	}
	ev.RemoteIP = redact.IP(ev.RemoteIP)
	ev.Detail = redact.Data(ev.Detail) // phone numbers in any written form
	if ev.Type == TypeSecurityAlert {
		r.noteAlert(ev)
	}
	r.enqueue(ev)
	if ev.Type == TypeAuthFailure {
		// Every source of authentication failures records through here,
		// so the burst check sees them all; an aggregated row (Refusals)
		// stands for Detail "count" failures.
		n, _ := ev.Detail["count"].(int)
		for i := 0; i < max(1, min(n, AlertThreshold+1)); i++ {
			r.checkAuthBurst(ev)
		}
	}
}

// enqueue queues an event whose IP is already masked.
func (r *Recorder) enqueue(ev Event) { r.w.Add(ev) }

// full is told each event the writer dropped. The first drop of an
// episode is logged at once; the writer records a security_alert with the
// count as soon as it has written what is queued (alertDrops), so security
// events are never lost without a trace.
func (r *Recorder) full(ev Event, closed bool, _ int64) {
	if closed {
		r.log.Warn("audit event after shutdown; dropped", "event", ev.Type)
		return
	}
	if r.unalerted.Add(1) == 1 {
		r.log.Error("audit queue full; events are being dropped", "event", ev.Type)
	}
}

// alertDrops writes, from the writer goroutine, one security_alert for
// the events dropped since the last one. It bypasses the queue, which is
// what was full.
func (r *Recorder) alertDrops() {
	n := r.unalerted.Swap(0)
	if n == 0 {
		return
	}
	r.log.Warn("security alert: audit events dropped", "event", TypeSecurityAlert, "dropped", n)
	ev := Event{Type: TypeSecurityAlert, Severity: Warning, Actor: "audit", Time: r.now(),
		Detail: map[string]any{"pattern": "audit_events_dropped", "dropped": n}}
	r.raised(ev)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.store.InsertAuditEvents(ctx, []Event{ev}); err != nil {
		r.log.Error("audit write failed", "events", 1, "err", err)
	}
}

// Flush waits until every event recorded before the call is written (or
// ctx ends). Tests and shutdown use it.
func (r *Recorder) Flush(ctx context.Context) { _ = r.w.Flush(ctx) }

// Close writes what is queued, reports drops not yet alerted, and stops
// the writer.
func (r *Recorder) Close() {
	r.w.Close()
	r.alertDrops()
}

// batchLinger is how long the writer waits for more events after the
// first of a batch: under load (an audit row per call decision) one
// transaction then carries hundreds of rows instead of a few, and the
// database's commit cost is shared; when idle a row waits this long.
const batchLinger = 20 * time.Millisecond

// writerPanicked is told a write panicked (a store bug, a driver fault):
// the batch in hand is already counted as dropped (which raises the
// dropped-events alert); the panic is logged and recorded as
// error_occurred, and the writer goes on.
func (r *Recorder) writerPanicked(v any, lost int) {
	panics.Log(r.log, "audit writer panicked; restarting", "audit", v, r.panicStacks, "events", lost)
	r.unalerted.Add(int64(lost))
	r.enqueue(Event{Type: TypeError, Severity: Warning, Actor: "audit", Time: r.now(),
		Detail: map[string]any{"source": "panic", "where": "audit_writer", "message": panics.Message(v)}})
}

// write stores one batch, then alerts on drops since the last one; a
// failure is logged, the batch is not retried.
func (r *Recorder) write(ctx context.Context, batch []Event) {
	if err := r.store.InsertAuditEvents(ctx, batch); err != nil {
		r.log.Error("audit write failed", "events", len(batch), "err", err)
	}
	r.alertDrops()
}

// Filter selects audit events for listing.
type Filter struct {
	Type     string
	Since    time.Time
	Until    time.Time
	BeforeID int64
	Limit    int
}
