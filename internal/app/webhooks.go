package app

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/voiceagent/voiceagent/internal/agents"
	"github.com/voiceagent/voiceagent/internal/calllog"
	"github.com/voiceagent/voiceagent/internal/egress"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/metrics"
	"github.com/voiceagent/voiceagent/internal/webhooks"
)

// WebhookOptions are the seams tests use on webhook delivery. The zero
// value is production behaviour.
type WebhookOptions struct {
	// Clock replaces time.Now for the dispatcher (tests move it to make a
	// retry due instead of sleeping).
	Clock func() time.Time
	// Backoff replaces the retry policy (webhooks.Backoff).
	Backoff func(attempt int) time.Duration
	// Poll is how often the dispatcher reads the outbox without being
	// woken (default webhooks.DefaultPoll).
	Poll time.Duration
	// Stopped leaves the dispatcher off: events are written to the outbox
	// and nothing is delivered (tests of a process that dies before
	// delivering).
	Stopped bool
}

// buildWebhooks builds the webhook service (subscription secrets sealed
// under their own key derived from PRIVACY_HASH_KEY, URLs checked like
// HTTP tools' against APP_ENV and TOOL_ALLOWED_NETWORKS) and starts the
// dispatcher, which sends through the same guarded egress client as HTTP
// tools (buildAgents makes it).
func (a *App) buildWebhooks(o WebhookOptions) error {
	cfg := a.Config
	sealer, err := agents.NewSealerFor(cfg.PrivacyHashKey, "webhook")
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	allowHTTP := !cfg.Production()
	allowed := cfg.ToolAllowedNetworks
	host, _ := os.Hostname()
	checkURL := func(u string) error { return egress.CheckURL(u, allowHTTP, allowed) }
	a.Dispatcher = webhooks.NewDispatcher(webhooks.Options{
		Store:       a.DB.Webhooks(),
		Sealer:      sealer,
		Sender:      a.egress,
		Details:     a.callDetail,
		ShowNumbers: cfg.LogsShowNumbers,
		CheckURL:    checkURL,
		Log:         a.Log.With("component", "webhooks"),
		Audit:       a.Audit,
		Observer:    webhookObserver{a.Metrics, a.Bus},
		Owner:       fmt.Sprintf("%.40s/%s", host, webhooks.NewEventHex()[:12]),
		Now:         o.Clock,
		Backoff:     o.Backoff,
		Poll:        o.Poll,
	})
	a.Webhooks = webhooks.NewService(a.DB.Webhooks(), a.Audit, sealer, webhooks.Settings{
		CheckURL: checkURL,
		Wake:     a.Dispatcher.Wake,
	})
	// Events written by this instance wake its dispatcher at once; the
	// other instances find them at their next poll.
	a.DB.SetOutboxHook(a.Dispatcher.Wake)
	if !o.Stopped {
		a.Dispatcher.Start()
		a.closers = append(a.closers, a.Dispatcher.Stop)
	}
	return nil
}

// webhookObserver reports the dispatcher's measurements as Prometheus
// metrics, and each failed attempt as a live event (webhook.failed, or
// webhook.disabled for a 410) for the dashboard's alert panel.
type webhookObserver struct {
	m   *metrics.Metrics
	bus *events.Bus
}

func (w webhookObserver) Delivered(outcome string) {
	w.m.WebhookDeliveries.WithLabelValues(outcome).Inc()
}

func (w webhookObserver) Outbox(depth int64, oldest time.Duration) {
	w.m.WebhookOutboxDepth.Set(float64(depth))
	w.m.WebhookOutboxOldest.Set(oldest.Seconds())
}

func (w webhookObserver) Failed(f webhooks.Failure) {
	if w.bus == nil {
		return
	}
	typ := events.WebhookFailed
	if f.State == webhooks.StateDisabled {
		typ = events.WebhookDisabled
	}
	data := map[string]any{"webhookId": f.SubscriptionID, "deliveryId": f.DeliveryID, "event": f.Event,
		"attempts": f.Attempts, "state": f.State, "error": f.Error}
	if f.Status != 0 {
		data["status"] = f.Status
	}
	w.bus.Publish(events.Event{Type: typ, CallSID: f.CallSID, Time: time.Now().UTC(), Data: data})
}

// callDetail is webhooks.CallDetails: call.ended's data is the call's
// details exactly as GET /api/calls/{callSid} answers them (the one
// detail function, calllog.GetDetail: record, decision, end reason,
// transcript, tools, latency, usage), numbers masked unless showNumbers.
func (a *App) callDetail(ctx context.Context, callSID string, showNumbers bool) (any, error) {
	return calllog.GetDetail(ctx, a.DB.CallList(), callSID, showNumbers)
}
