// Package metrics declares voiceagent's Prometheus collectors in one
// place. A Metrics value is created per process (or per test) with its own
// registry; nothing is registered globally.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every collector. Methods on a nil *Metrics are not
// provided: pass New(nil) in tests that do not look at metrics.
type Metrics struct {
	Registry *prometheus.Registry

	ActiveCalls       prometheus.Gauge
	CallsByDecision   *prometheus.CounterVec   // decision, reason
	CallDuration      prometheus.Histogram     // seconds
	FramesRelayed     *prometheus.CounterVec   // direction: "caller_to_model" | "model_to_caller"
	RelayLatency      *prometheus.HistogramVec // direction; seconds added by the relay per frame
	ModelConnectTime  prometheus.Histogram     // seconds to open the Realtime socket
	BargeIns          prometheus.Counter
	ToolCalls         *prometheus.CounterVec // name, result ("ok"|"error"|"timeout"|"unknown")
	AuthFailures      *prometheus.CounterVec // surface: "api" | "twilio" | "media" | "logs"
	SecurityAlerts    prometheus.Counter
	DroppedSubs       prometheus.Counter
	EventsShed        *prometheus.CounterVec // reason: "backlog" | "send_failed"
	WebSocketCloses   *prometheus.CounterVec // socket ("twilio"|"model"|"logs"), reason
	PrewarmedSessions *prometheus.CounterVec // outcome: "used" | "expired" | "failed"
	// AuditDropped counts audit events a full queue dropped (each episode
	// also raises a security_alert).
	AuditDropped prometheus.Counter
	// TranscriptsDropped counts transcript lines a full queue (or a
	// store panic) kept from being stored.
	TranscriptsDropped prometheus.Counter
	// RefusalsLimited counts webhook, media-stream and bearer (/logs,
	// /ready, /metrics) requests answered
	// 429 because their client kept failing authentication, by surface.
	RefusalsLimited *prometheus.CounterVec
	// BudgetExceeded counts calls ended for exceeding a per-call budget
	// limit, by limit.
	BudgetExceeded *prometheus.CounterVec
	// HTTPToolCalls counts calls of HTTP tools by tool and outcome
	// (egress outcomes and invalid_arguments); HTTPToolDuration is the
	// time of each request sent.
	HTTPToolCalls    *prometheus.CounterVec   // tool, outcome
	HTTPToolDuration *prometheus.HistogramVec // tool; seconds
	// Webhooks: attempts by outcome (delivered, retry, failed,
	// disabled), the outbox rows waiting (all instances) and the age of
	// the oldest, refreshed every few seconds by each dispatcher.
	WebhookDeliveries   *prometheus.CounterVec // outcome
	WebhookOutboxDepth  prometheus.Gauge
	WebhookOutboxOldest prometheus.Gauge // seconds
}

// New creates the collectors and registers them, plus the Go runtime and
// process collectors, on reg (a new registry when reg is nil).
func New(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		Registry:            reg,
		ActiveCalls:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "voiceagent_active_calls", Help: "Calls with a live media stream on this instance."}),
		CallsByDecision:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "voiceagent_calls_total", Help: "Incoming calls by policy decision."}, []string{"decision", "reason"}),
		CallDuration:        prometheus.NewHistogram(prometheus.HistogramOpts{Name: "voiceagent_call_duration_seconds", Help: "Duration of relayed calls.", Buckets: []float64{5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600}}),
		FramesRelayed:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "voiceagent_frames_relayed_total", Help: "Audio frames relayed, by direction."}, []string{"direction"}),
		RelayLatency:        prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "voiceagent_relay_latency_seconds", Help: "Time a frame spends inside the relay, by direction.", Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1}}, []string{"direction"}),
		ModelConnectTime:    prometheus.NewHistogram(prometheus.HistogramOpts{Name: "voiceagent_model_connect_seconds", Help: "Time to open a Realtime session.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 10)}),
		BargeIns:            prometheus.NewCounter(prometheus.CounterOpts{Name: "voiceagent_barge_ins_total", Help: "Caller interruptions that cut the agent short."}),
		ToolCalls:           prometheus.NewCounterVec(prometheus.CounterOpts{Name: "voiceagent_tool_calls_total", Help: "Agent tool calls by tool and result."}, []string{"name", "result"}),
		AuthFailures:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "voiceagent_auth_failures_total", Help: "Authentication failures by surface."}, []string{"surface"}),
		SecurityAlerts:      prometheus.NewCounter(prometheus.CounterOpts{Name: "voiceagent_security_alerts_total", Help: "Security alerts raised by audit pattern checks."}),
		DroppedSubs:         prometheus.NewCounter(prometheus.CounterOpts{Name: "voiceagent_dropped_subscribers_total", Help: "Live-event subscribers dropped for being slow."}),
		EventsShed:          prometheus.NewCounterVec(prometheus.CounterOpts{Name: "voiceagent_events_shed_total", Help: "Live events not sent to the other instances, by reason (never call.ended or security alerts for a backlog)."}, []string{"reason"}),
		WebSocketCloses:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "voiceagent_websocket_closes_total", Help: "WebSocket closes by socket and reason."}, []string{"socket", "reason"}),
		PrewarmedSessions:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "voiceagent_prewarmed_sessions_total", Help: "Pre-warmed model sessions by outcome."}, []string{"outcome"}),
		AuditDropped:        prometheus.NewCounter(prometheus.CounterOpts{Name: "voiceagent_audit_dropped_total", Help: "Audit events dropped because the audit queue was full."}),
		TranscriptsDropped:  prometheus.NewCounter(prometheus.CounterOpts{Name: "voiceagent_transcript_lines_dropped_total", Help: "Transcript lines not stored because the transcript queue was full."}),
		RefusalsLimited:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "voiceagent_refusals_rate_limited_total", Help: "Twilio webhook, media-stream, /logs, /ready and /metrics requests refused 429 after repeated authentication failures, by surface."}, []string{"surface"}),
		BudgetExceeded:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "voiceagent_call_budget_exceeded_total", Help: "Calls ended for exceeding a per-call budget limit, by limit."}, []string{"limit"}),
		HTTPToolCalls:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "voiceagent_http_tool_calls_total", Help: "HTTP tool calls by tool and outcome."}, []string{"tool", "outcome"}),
		HTTPToolDuration:    prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "voiceagent_http_tool_duration_seconds", Help: "Duration of HTTP tool requests, by tool.", Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"tool"}),
		WebhookDeliveries:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "voiceagent_webhook_deliveries_total", Help: "Webhook delivery attempts by outcome (delivered, retry, failed, disabled)."}, []string{"outcome"}),
		WebhookOutboxDepth:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "voiceagent_webhook_outbox_depth", Help: "Webhook deliveries waiting in the outbox (all instances)."}),
		WebhookOutboxOldest: prometheus.NewGauge(prometheus.GaugeOpts{Name: "voiceagent_webhook_outbox_oldest_seconds", Help: "Age of the oldest webhook delivery waiting in the outbox (0 when empty)."}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.ActiveCalls, m.CallsByDecision, m.CallDuration, m.FramesRelayed, m.RelayLatency, m.ModelConnectTime,
		m.BargeIns, m.ToolCalls, m.AuthFailures, m.SecurityAlerts, m.DroppedSubs, m.EventsShed, m.WebSocketCloses, m.PrewarmedSessions,
		m.AuditDropped, m.TranscriptsDropped, m.RefusalsLimited, m.BudgetExceeded, m.HTTPToolCalls, m.HTTPToolDuration,
		m.WebhookDeliveries, m.WebhookOutboxDepth, m.WebhookOutboxOldest,
	)
	return m
}
