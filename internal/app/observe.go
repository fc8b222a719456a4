package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/httpapi"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/webhooks"
)

// observability is what watching the server needs besides the routes:
// the retention job and the optional internal metrics listener.
type observability struct {
	retention   *audit.Retention
	metricsSrv  *http.Server
	metricsAddr net.Addr
}

// MetricsAddr is the internal metrics listener's address when
// METRICS_ADDR is set (nil otherwise).
func (a *App) MetricsAddr() net.Addr { return a.obs.metricsAddr }

// startObservability builds the live-event bus (listening on PostgreSQL
// so viewers see every instance's calls), starts the retention job and,
// with METRICS_ADDR, the internal metrics listener. Each piece registers
// its closer.
func (a *App) startObservability(ctx context.Context) error {
	opts := events.Options{
		OnDrop:      a.Metrics.DroppedSubs.Inc,
		OnShed:      func(reason string, n int) { a.Metrics.EventsShed.WithLabelValues(reason).Add(float64(n)) },
		PanicStacks: !a.Config.Production(),
		OnPanic: func(where, message string) {
			a.Audit.Record(audit.Event{Type: audit.TypeError, Severity: audit.Warning, Actor: "events",
				Detail: map[string]any{"source": "panic", "where": where, "message": message}})
		},
	}
	if a.DB.Engine == store.Postgres {
		ch, err := a.DB.EventChannel(ctx)
		if err != nil {
			return err
		}
		opts.Transport = ch
	}
	a.Bus = events.NewBus(a.Log, opts)
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := a.Bus.Start(sctx); err != nil {
		return fmt.Errorf("live events: %w", err)
	}
	a.closers = append(a.closers, a.Bus.Close)

	day := 24 * time.Hour
	a.obs.retention = audit.NewRetention(a.Log, a.Audit,
		audit.Target{Name: "audit_events", Keep: time.Duration(a.Config.AuditRetentionDays) * day, Purge: a.DB.Audit().DeleteAuditEventsBefore},
		audit.Target{Name: "transcripts", Keep: time.Duration(a.Config.TranscriptRetentionDays) * day, Purge: a.DB.Transcripts().DeleteTranscriptsBefore},
		audit.Target{Name: "event_payloads", Keep: store.EventPayloadRetention, Purge: a.DB.DeleteEventPayloadsBefore},
		// Calls and everything hanging off them (conferences, participants,
		// conference events, stream tokens, webhook receipts, transcripts);
		// live calls are never purged.
		audit.Target{Name: "calls", Keep: time.Duration(a.Config.CallRetentionDays) * day, Purge: a.DB.Calls().DeleteCallsBefore},
		// The webhook delivery log (issue 15): 7 days.
		audit.Target{Name: "webhook_deliveries", Keep: webhooks.LogRetention, Purge: a.DB.Webhooks().DeleteDeliveriesBefore},
	)
	a.obs.retention.Start(audit.RetentionEvery)
	a.closers = append(a.closers, a.obs.retention.Stop)

	if a.Config.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.Config.MetricsAddr)
	if err != nil {
		return fmt.Errorf("METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", httpapi.MetricsHandler(a.Metrics))
	a.obs.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	a.obs.metricsAddr = ln.Addr()
	go func() {
		if err := a.obs.metricsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error("metrics listener stopped", "err", err)
		}
	}()
	a.closers = append(a.closers, func() { a.obs.metricsSrv.Close() })
	a.Log.Info("metrics served on the internal listener", "addr", ln.Addr().String())
	return nil
}
