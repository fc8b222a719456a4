// Package app wires the services, stores and HTTP server together. The
// command line, the call simulator and end-to-end tests all build the
// server through New, so what is tested is what runs.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/voiceagent/voiceagent/internal/agents"
	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/conference"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/contacts"
	"github.com/voiceagent/voiceagent/internal/egress"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/httpapi"
	"github.com/voiceagent/voiceagent/internal/metrics"
	"github.com/voiceagent/voiceagent/internal/outbound"
	"github.com/voiceagent/voiceagent/internal/panics"
	"github.com/voiceagent/voiceagent/internal/privacy"
	"github.com/voiceagent/voiceagent/internal/relay"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/twilioapi"
	"github.com/voiceagent/voiceagent/internal/voice"
	"github.com/voiceagent/voiceagent/internal/webhooks"
)

// Options are the seams tests and the simulator use. The zero value is
// production behaviour.
type Options struct {
	// TwilioHTTPClient, when set, carries every Twilio REST call (tests
	// point it at the fake Twilio server).
	TwilioHTTPClient *http.Client
	// Version goes into the User-Agent of requests to HTTP tools.
	Version string
	// Webhooks are the webhook dispatcher's seams (tests).
	Webhooks WebhookOptions
}

// App is a wired server.
type App struct {
	Config  *config.Config
	Log     *slog.Logger
	DB      *store.DB
	Audit   *audit.Recorder
	Metrics *metrics.Metrics
	Server  *httpapi.Server
	Relay   *relay.Relay
	// Bus carries live call events to /logs viewers on every instance.
	Bus *events.Bus
	// Twilio is the REST client (nil without REST credentials); Contacts
	// and Conferences serve the operator API and the agent's tools.
	Twilio      *twilioapi.Client
	Contacts    *contacts.Service
	Conferences *conference.Service
	// Voice decides incoming calls and keeps call records and caller lists.
	Voice *voice.Service
	// records keeps the stream, hand-over and end of accepted calls (the
	// relay, the conferences and Voice report through it).
	records *voice.CallRecords
	// Tokens are the scoped API tokens.
	Tokens *apitoken.Service
	// Agents serves the agents, their phone numbers and their HTTP tools.
	Agents *agents.Service
	// Outbound places and ends calls for the operator API.
	Outbound *outbound.Service
	// Webhooks are the webhook subscriptions; Dispatcher delivers their
	// outbox (issue 15).
	Webhooks   *webhooks.Service
	Dispatcher *webhooks.Dispatcher

	egress  *egress.Client // HTTP tools' outbound requests
	obs     observability
	closers []func()
}

// New builds every service on an open, migrated database.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, db *store.DB, opts Options) (*App, error) {
	a := &App{Config: cfg, Log: log, DB: db, Metrics: metrics.New(nil)}
	alerts := &alertForwarder{}
	a.Audit = audit.NewRecorder(db.Audit(), log, audit.WithAlertCounter(a.Metrics.SecurityAlerts), audit.WithDropCounter(a.Metrics.AuditDropped),
		audit.WithPanicStacks(!cfg.Production()), audit.WithAlertSink(alerts.forward))
	a.closers = append(a.closers, a.Audit.Close)
	// A panic in the store's own goroutines (the SQLite checkpoint loop)
	// is logged and audited like every other contained panic.
	db.SetPanicHandler(func(where string, v any) {
		panics.Log(log, "panic contained", "store", v, !cfg.Production(), "where", where)
		a.Audit.Record(audit.Event{Type: audit.TypeError, Severity: audit.Warning, Actor: "store",
			Detail: map[string]any{"source": "panic", "where": where, "message": panics.Message(v)}})
	})
	if err := a.startObservability(ctx); err != nil {
		a.Close()
		return nil, err
	}
	alerts.bus.Store(a.Bus)

	if err := a.buildOperator(opts); err != nil {
		a.Close()
		return nil, err
	}

	if err := a.buildAgents(opts.Version); err != nil {
		a.Close()
		return nil, err
	}

	if err := a.buildWebhooks(opts.Webhooks); err != nil {
		a.Close()
		return nil, err
	}

	// Construction order: the call records first (the conference hand-over
	// and the relay report through them), then the conferences, the relay,
	// and last the inbound-call service, which pre-warms the relay.
	a.records = voice.NewCallRecords(db.Calls(), log)
	if err := a.buildConferences(); err != nil {
		a.Close()
		return nil, err
	}

	if err := a.buildOutbound(); err != nil {
		a.Close()
		return nil, err
	}

	// The AI agent: relays Twilio media streams to the Realtime API.
	a.Relay = relay.New(relay.Deps{
		Log:         log,
		Metrics:     a.Metrics,
		Audit:       a.Audit,
		Events:      a.Bus,
		Transcripts: db.Transcripts(),
		StatsStore:  db.CallStats(),
		Calls:       a.records,
		Directory:   directory{a.Contacts},
		Telephony:   a.Conferences,
		DenyList:    db.Callers(),
		Agents:      a.agentRuntime(),
	}, RelaySettings(cfg))
	a.closers = append(a.closers, a.Relay.Close)
	if err := a.buildVoice(ctx, a.Bus); err != nil {
		a.Close()
		return nil, err
	}

	// Scoped API tokens beside INTERNAL_API_BEARER; Close writes back
	// the last-used times still pending.
	a.Tokens = apitoken.NewService(db.APITokens(), a.Audit, apitoken.Options{Log: log})
	a.closers = append(a.closers, a.Tokens.Close)

	a.Server = httpapi.New(httpapi.Deps{
		Log:      log,
		DB:       db,
		Audit:    a.Audit,
		Metrics:  a.Metrics,
		Relay:    a.Relay,
		Events:   a.Bus,
		AuditLog: db.Audit(),
		CallList: db.CallList(),

		Contacts:    a.Contacts,
		Conferences: a.Conferences,
		Privacy:     privacy.NewService(db.Privacy(), a.Audit, a.Audit, privacy.Settings{HashKey: cfg.PrivacyHashKey, ServiceNumbers: map[string]string{cfg.TwilioPhoneNumber: "TWILIO_PHONE_NUMBER", cfg.TwilioOutboundNumber: "TWILIO_OUTBOUND_NUMBER"}, Assigned: a.Agents.Assigned}),

		Voice:        a.Voice,
		StreamTokens: a.Voice,
		CallLimiter:  httpapi.NewCallLimiter(cfg.CallsPerMinute),
		Tokens:       a.Tokens,
		Agents:       a.Agents,
		Outbound:     a.Outbound,
		Webhooks:     a.Webhooks,
	}, HTTPSettings(cfg))
	// Shutdown waits for live calls (up to SHUTDOWN_DRAIN_TIMEOUT); Close
	// then ends the rest.
	a.Server.OnDrain(a.Relay.Drain)
	a.closers = append(a.closers, a.Server.FlushRefusals) // closed before the recorder
	return a, nil
}

// Close stops background work (after Drain).
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// Serve serves on ln until ctx ends, then drains and shuts the listener
// down, all within SHUTDOWN_DRAIN_TIMEOUT: the drain and the HTTP shutdown
// share one deadline, and whatever is still open at it is closed at once.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	hs := a.Server.HTTPServer()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.Log.Info("shutting down: draining", "timeout", a.Config.DrainTimeout.String())
	dctx, cancel := context.WithTimeout(context.Background(), a.Config.DrainTimeout)
	defer cancel()
	// The listener stays open while draining, so /ready can answer 503 and
	// late webhooks get busy TwiML.
	a.Server.Drain(dctx)
	// Shutdown closes the listener and idle connections at once, then waits
	// for requests still running, for what is left of the deadline; when
	// the drain used it all, it returns straight away and Close cuts the
	// rest.
	if err := hs.Shutdown(dctx); err != nil {
		a.Log.Warn("shutdown", "err", err)
	}
	hs.Close()
	return nil
}
