// Package apptest starts the real, fully wired server for tests: real
// router, middleware, services and database (SQLite or PostgreSQL) behind
// an httptest listener on loopback.
package apptest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// Test credentials: obviously fake, never real.
const (
	AuthToken  = "f2a1c0ffee5eed0000000000000000aa"
	AccountSID = "AC00000000000000000000000000000000"
	Bearer     = "test-bearer-token-0123456789abcdef0123"
	BearerNext = "test-bearer-token-next-9876543210fedcba"
	PublicURL  = "https://voice.example.test"
	APIKeyAI   = "sk-test-not-a-real-key"
)

// Env returns the base test environment; tests override entries.
func Env() map[string]string {
	return map[string]string{
		"APP_ENV":             "development",
		"PUBLIC_URL":          PublicURL,
		"TWILIO_ACCOUNT_SID":  AccountSID,
		"TWILIO_AUTH_TOKEN":   AuthToken,
		"INTERNAL_API_BEARER": Bearer,
		"OPENAI_API_KEY":      APIKeyAI,
		"PRIVACY_HASH_KEY":    "test-privacy-hash-key-0123456789abcdef",
		"LOG_LEVEL":           "error",
	}
}

// Server is a running test server.
type Server struct {
	*app.App
	URL  string // http://127.0.0.1:port
	HTTP *httptest.Server
}

// Options choose the engine and adjust the environment and app seams.
type Options struct {
	DB   *store.DB         // default: a fresh SQLite database
	Env  map[string]string // merged over Env()
	App  app.Options
	Logs *LogBuffer // when set, every log line is written here
}

// New starts a server and stops it when the test ends.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	env := Env()
	for k, v := range o.Env {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	db := o.DB
	if db == nil {
		db = storetest.SQLite(t)
	}
	log := logging.Discard()
	if o.Logs != nil {
		log = logging.New(o.Logs, "json", "debug")
	}
	a, err := app.New(context.Background(), cfg, log, db, o.App)
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	hs := httptest.NewUnstartedServer(a.Server)
	hs.Config = a.Server.HTTPServer()
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		a.Close()
	})
	return &Server{App: a, URL: hs.URL, HTTP: hs}
}
