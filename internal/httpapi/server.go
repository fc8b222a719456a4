// Package httpapi is the HTTP transport: the whole route list in routes.go,
// the middleware chains, the one error responder, and one file per
// controller. Handlers decode, validate, call a service and write; the
// logic lives in the domain packages.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/voiceagent/voiceagent/internal/agents"
	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/conference"
	"github.com/voiceagent/voiceagent/internal/contacts"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/metrics"
	"github.com/voiceagent/voiceagent/internal/outbound"
	"github.com/voiceagent/voiceagent/internal/privacy"
	"github.com/voiceagent/voiceagent/internal/relay"
	"github.com/voiceagent/voiceagent/internal/twiliosig"
	"github.com/voiceagent/voiceagent/internal/voice"
	"github.com/voiceagent/voiceagent/internal/webhooks"
)

// Pinger reports whether the database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the services the controllers call. Each later feature adds its
// service here; a nil service turns its routes into 503 "not configured".
type Deps struct {
	Log   *slog.Logger
	DB    Pinger
	Audit *audit.Recorder
	// Metrics is never nil (metrics.New(nil) in tests).
	Metrics *metrics.Metrics
	// Relay runs Twilio media streams; StreamTokens redeems their one-time
	// tokens. Either nil: the media-stream routes answer 503.
	Relay        *relay.Relay
	StreamTokens StreamTokens
	// Events is the live-event bus behind /logs; AuditLog lists audit
	// events for /api/audit; CallList lists calls for /api/calls. Any nil:
	// its route answers 503.
	Events   *events.Bus
	AuditLog AuditLister
	CallList CallLister
	// Contacts and Conferences serve /api/contacts and /api/conference;
	// Privacy serves /api/data. Any nil: its routes answer 503.
	Contacts    *contacts.Service
	Conferences *conference.Service
	Privacy     *privacy.Service
	// Voice runs the inbound-call webhooks and /api/callers (nil: 503);
	// CallLimiter throttles incoming calls (nil: no throttling).
	Voice       *voice.Service
	CallLimiter *CallLimiter
	// Tokens authenticates scoped API tokens and serves /api/tokens (nil:
	// only INTERNAL_API_BEARER's tokens are accepted; /api/tokens is 503).
	Tokens *apitoken.Service
	// Agents serves /api/agents, /api/numbers and /api/tools (nil: 503).
	Agents *agents.Service
	// Outbound places calls (POST /api/calls) and ends them
	// (POST /api/calls/{callSid}/end); nil: 503.
	Outbound *outbound.Service
	// Webhooks serves /api/webhooks (nil: 503).
	Webhooks *webhooks.Service
}

// Server owns the router and the drain state.
type Server struct {
	Deps
	cfg Settings
	log *slog.Logger

	draining atomic.Bool
	inflight inflight
	// drainers are waited for during shutdown besides in-flight requests
	// (for example live media streams); each returns when its work is done
	// or ctx ends.
	drainers []func(ctx context.Context)
	handler  http.Handler

	logViewers atomic.Int64 // open /logs sockets
	load       loadTracker  // error rate for /ready's degraded report

	lockout *authLockout // bearer brute-force lockout per client IP
	xffWarn *peerWarner  // one warning per peer sending X-Forwarded-For untrusted
	// refusals aggregates refused webhook and media-stream requests into
	// bounded audit rows; refusalLimit answers 429 to clients that keep
	// failing (refusals.go).
	refusals     *audit.Refusals
	refusalLimit *failLimiter
	validate     *validator.Validate // request DTO rules
	// twilioSig checks Twilio's signatures (nil when TWILIO_AUTH_TOKEN or
	// PUBLIC_URL is missing); built once in New, not per request: its
	// pooled HMAC states are what make a check cheap.
	twilioSig *twiliosig.Validator
}

// New builds the server and its routes.
func New(d Deps, st Settings) *Server {
	s := &Server{Deps: d, cfg: st, log: d.Log}
	s.twilioSig = twiliosig.New(st.TwilioAuthToken, st.PublicURL)
	s.lockout = newAuthLockout(st.AuthFailLimit)
	s.xffWarn = newPeerWarner(d.Log)
	s.refusals = audit.NewRefusals(d.Audit, audit.RefusalLog(d.Log))
	s.refusalLimit = newFailLimiter(refusalLimit, refusalWindow)
	s.validate = newValidator()
	s.handler = s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// OnDrain registers work that shutdown waits for.
func (s *Server) OnDrain(fn func(ctx context.Context)) { s.drainers = append(s.drainers, fn) }

// Draining reports whether shutdown has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

// Drain turns /ready to 503 and refuses new work at once, then waits for
// in-flight requests and registered drainers until they finish or ctx ends.
func (s *Server) Drain(ctx context.Context) {
	s.draining.Store(true)
	drained := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, d := range s.drainers {
			wg.Add(1)
			go func() { defer wg.Done(); s.drainContained(ctx, d) }()
		}
		wg.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-ctx.Done():
		return
	}
	s.inflight.wait(ctx)
}

// track counts in-flight requests so Drain can wait for them.
func (s *Server) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inflight.add()
		defer s.inflight.done()
		next.ServeHTTP(w, r)
	})
}

// inflight counts requests in progress. Unlike a sync.WaitGroup, adding
// while someone waits is allowed: Twilio webhooks keep arriving (and are
// answered busy) during a drain.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n reaches zero; nil while n is zero
}

func (f *inflight) add() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.idle = make(chan struct{})
	}
	f.n++
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 {
		close(f.idle)
		f.idle = nil
	}
}

// wait returns when no request is in flight or ctx ends. A request that
// starts later is not waited for once the count has touched zero.
func (f *inflight) wait(ctx context.Context) {
	f.mu.Lock()
	idle := f.idle
	f.mu.Unlock()
	if idle == nil {
		return
	}
	select {
	case <-idle:
	case <-ctx.Done():
	}
}

// HTTPServer wraps the handler in an http.Server with the timeouts every
// public listener needs. WriteTimeout is left to the handlers that stream
// (WebSockets set their own deadlines).
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}
