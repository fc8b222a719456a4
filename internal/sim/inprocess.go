package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/voiceagent/voiceagent/internal/app"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/store"
)

// Numbers the simulator uses: reserved example numbers, never real.
const (
	ServiceNumber  = "+15555550100" // the agent's number (TWILIO_PHONE_NUMBER)
	OutboundNumber = "+15555550101" // TWILIO_OUTBOUND_NUMBER
	CallerNumber   = "+15555550111"
	BlockedNumber  = "+15555550199"
	ContactNumber  = "+14155550142"
	ContactName    = "Alice Example"
)

// Credentials are the secrets a simulated server runs with, generated at
// random for each run.
type Credentials struct {
	AccountSID, AuthToken, Bearer, OpenAIKey, PrivacyKey string
}

// NewCredentials returns fresh random test credentials.
func NewCredentials() Credentials {
	return Credentials{
		AccountSID: "AC" + newID(),
		AuthToken:  newID(),
		Bearer:     "sim-" + newID() + newID(),
		OpenAIKey:  "sk-sim-" + newID(),
		PrivacyKey: newID() + newID(),
	}
}

// Env returns the server environment for these credentials: development
// mode, the example public URL and the given Realtime URL.
func (c Credentials) Env(realtimeURL string) map[string]string {
	return map[string]string{
		"APP_ENV":                "development",
		"PUBLIC_URL":             "https://voice.example.test",
		"TWILIO_ACCOUNT_SID":     c.AccountSID,
		"TWILIO_AUTH_TOKEN":      c.AuthToken,
		"TWILIO_PHONE_NUMBER":    ServiceNumber,
		"TWILIO_OUTBOUND_NUMBER": OutboundNumber,
		"INTERNAL_API_BEARER":    c.Bearer,
		"OPENAI_API_KEY":         c.OpenAIKey,
		"PRIVACY_HASH_KEY":       c.PrivacyKey,
		"REALTIME_URL":           realtimeURL,
		"LOG_LEVEL":              "warn",
		// The http-tool scenario's endpoint listens on loopback; only the
		// simulator's own server may reach it.
		"TOOL_ALLOWED_NETWORKS": "127.0.0.0/8",
		// The outbound scenario calls a Los Angeles number whatever the
		// hour there; the simulated server dials nobody.
		"OUTBOUND_QUIET_HOURS": "off",
	}
}

// InProcessOptions configure StartInProcess.
type InProcessOptions struct {
	// Env is merged over the generated environment.
	Env map[string]string
	// Realtime configures the fake model.
	Realtime fake.RealtimeOptions
	// Log receives the server's log lines (nil: discarded).
	Log io.Writer
}

// InProcess is a fully wired server running in this process on a
// temporary SQLite database, with a fake Realtime model and a fake Twilio
// REST API.
type InProcess struct {
	Target   Target
	Creds    Credentials
	Config   *config.Config
	App      *app.App
	Realtime *fake.Realtime
	REST     *fake.TwilioREST

	dir    string
	db     *store.DB
	cancel context.CancelFunc
	served chan error
}

// StartInProcess starts a server the way `voiceagent serve` does, through
// app.New, with everything it talks to faked on loopback.
func StartInProcess(ctx context.Context, o InProcessOptions) (_ *InProcess, err error) {
	p := &InProcess{Creds: NewCredentials()}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	p.dir, err = os.MkdirTemp("", "voiceagent-sim-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	p.Realtime = fake.NewRealtime(o.Realtime)
	p.REST = fake.NewTwilioREST(p.Creds.AccountSID, p.Creds.AccountSID, p.Creds.AuthToken)
	env := p.Creds.Env(p.Realtime.URL())
	env["DATA_DIR"] = p.dir
	for k, v := range o.Env {
		env[k] = v
	}
	p.Config, err = config.Load(func(k string) string { return env[k] })
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	p.db, err = store.Open(ctx, "", p.dir)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if _, err := p.db.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	log := logging.New(logw, "text", p.Config.LogLevel)
	p.App, err = app.New(ctx, p.Config, log, p.db, app.Options{TwilioHTTPClient: p.REST.HTTPClient()})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.served = make(chan error, 1)
	go func() { p.served <- p.App.Serve(sctx, ln) }()
	p.Target = Target{
		BaseURL:      "http://" + ln.Addr().String(),
		PublicURL:    env["PUBLIC_URL"],
		AuthToken:    p.Creds.AuthToken,
		AccountSID:   p.Creds.AccountSID,
		Bearer:       p.Creds.Bearer,
		CalledNumber: ServiceNumber,
		HTTP:         NewHTTPClient(16),
	}
	// The fake plays Twilio for placed calls: their webhooks go to the
	// server, signed over their PUBLIC_URL addresses.
	p.REST.SetWebhookTarget(p.Target.BaseURL, p.Creds.AuthToken)
	return p, nil
}

// Close drains and stops the server, then the fakes, and removes the
// temporary directory.
func (p *InProcess) Close() {
	var errs []error
	if p.cancel != nil {
		p.cancel()
		errs = append(errs, <-p.served)
	}
	if p.App != nil {
		p.App.Close()
	}
	if p.db != nil {
		errs = append(errs, p.db.Close())
	}
	if p.Realtime != nil {
		p.Realtime.Close()
	}
	if p.REST != nil {
		p.REST.Close()
	}
	if p.dir != "" {
		errs = append(errs, os.RemoveAll(p.dir))
	}
	_ = errors.Join(errs...)
}

// Numbers the outbound scenario calls: reserved 555-01xx numbers of a real
// area code, which the phone-number library counts as valid.
const (
	OutboundCallee        = "+14155550143"
	OutboundMachineCallee = "+14155550144"
)
