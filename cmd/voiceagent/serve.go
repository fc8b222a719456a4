package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"

	"github.com/voiceagent/voiceagent/internal/app"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/store"
)

func openDB(ctx context.Context, cfg *config.Config) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return db, nil
}

// serve wires the server linearly and runs it until ctx ends, then drains.
// ready, when not nil, receives the listening address (tests use :0).
func serve(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer, ready chan<- string) error {
	log := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	defer debug.SetGCPercent(debug.SetGCPercent(cfg.GCPercent))
	log.Info("garbage collector", "gogc", gogcText(cfg.GCPercent))

	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	log.Info("database ready", "engine", string(db.Engine), "schema_version", v)
	if db.TempInMemory {
		log.Warn("no writable temporary directory: SQLite keeps its temporary files in memory, so the VACUUM after an erasure holds a copy of the database in RAM; mount a tmpfs on /tmp (docker run --tmpfs /tmp)")
	}

	a, err := app.New(ctx, cfg, log, db, app.Options{Version: version})
	if err != nil {
		return err
	}
	defer a.Close()
	for _, c := range cfg.Checklist() {
		a.Audit.Record(audit.Event{Type: audit.TypeConfigCheck, Severity: severityOf(c.Status), Detail: map[string]any{"check": c.Name, "status": string(c.Status)}})
		if c.Status != config.Pass {
			log.Warn("config check", "check", c.Name, "status", string(c.Status), "detail", c.Detail)
		}
	}
	announce(cfg, stdout, log)
	if cfg.PprofAddr != "" {
		stopPprof, err := startPprof(cfg.PprofAddr, log)
		if err != nil {
			return fmt.Errorf("PPROF_ADDR %s: %w", cfg.PprofAddr, err)
		}
		defer stopPprof()
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("PORT %d: %w", cfg.Port, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "env", cfg.Env)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	if err := a.Serve(ctx, ln); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

func severityOf(s config.Status) string {
	if s == config.Pass {
		return audit.Info
	}
	return audit.Warning
}

// announce prints what a new user needs once at start: the generated
// development token and which features are off.
func announce(cfg *config.Config, stdout io.Writer, log *slog.Logger) {
	if cfg.BearerGenerated {
		fmt.Fprintf(stdout, "\nDevelopment API token (generated for this run; set INTERNAL_API_BEARER to keep one):\n  %s\n\n", cfg.BearerTokens[0].Value)
	}
	if !cfg.TwilioValidate {
		log.Warn("!!! TWILIO_VALIDATE=false: Twilio webhook signatures are NOT checked; anyone can drive the webhooks. Development only. !!!")
	}
	for _, f := range cfg.Features() {
		log.Warn("feature off until configured", "feature", f)
	}
}

// gogcText spells a garbage-collection target as GOGC does.
func gogcText(percent int) string {
	if percent < 0 {
		return "off"
	}
	return strconv.Itoa(percent)
}
