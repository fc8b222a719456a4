// Package config loads voiceagent's configuration from the environment. It
// is a value, never a global: Load takes the lookup function, so tests and
// the command line pass their own.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/voiceagent/voiceagent/internal/agents"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// Environments.
const (
	Development = "development"
	Production  = "production"
)

// Dial policies for the agent's tools (AGENT_DIAL_POLICY): the agents
// package's.
const (
	DialContactsOnly = agents.DialContactsOnly
	DialAny          = agents.DialAny
)

// Caller-name policies (CALLER_NAME_POLICY): the voice package's, which
// applies them.
const (
	CallerNameOff          = voice.NamePolicyOff
	CallerNameBlockUnknown = voice.NamePolicyBlockUnknown
	CallerNameBusinessOnly = voice.NamePolicyBusinessOnly
)

// BearerToken is one accepted API token with the name logged on success.
type BearerToken struct {
	Name  string // "primary" or "next"
	Value string
}

// Config is the whole configuration. Field comments name the variable.
type Config struct {
	Env          string        // APP_ENV
	EnvDefaulted bool          // APP_ENV was unset (development by default)
	Port         int           // PORT
	PublicURL    *url.URL      // PUBLIC_URL (scheme and host, no path)
	DatabaseURL  string        // DATABASE_URL or DATABASE_URL_FILE (empty: SQLite under DataDir)
	DataDir      string        // DATA_DIR
	LogLevel     string        // LOG_LEVEL
	LogFormat    string        // LOG_FORMAT
	MaxBodyBytes int64         // MAX_BODY_BYTES
	DrainTimeout time.Duration // SHUTDOWN_DRAIN_TIMEOUT

	TwilioAccountSID     string // TWILIO_ACCOUNT_SID
	TwilioAuthToken      string // TWILIO_AUTH_TOKEN
	TwilioAPIKey         string // TWILIO_API_KEY
	TwilioAPISecret      string // TWILIO_API_SECRET
	TwilioPhoneNumber    string // TWILIO_PHONE_NUMBER (E.164)
	TwilioOutboundNumber string // TWILIO_OUTBOUND_NUMBER (E.164)
	TwilioValidate       bool   // TWILIO_VALIDATE
	// Outbound is TWILIO_API_BASE_URL and the OUTBOUND_* settings
	// (outbound.go).
	Outbound Outbound

	OpenAIAPIKey string // OPENAI_API_KEY

	BearerTokens    []BearerToken // INTERNAL_API_BEARER
	BearerGenerated bool          // true when development made one up
	AllowedOrigins  []string      // ALLOWED_ORIGINS
	TrustedProxies  []netip.Prefix
	PrivacyHashKey  string // PRIVACY_HASH_KEY
	// PrivacyKeyGenerated is true when development made PrivacyHashKey up.
	PrivacyKeyGenerated bool
	AuthFailLimit       int // AUTH_FAILURE_LIMIT
	APIRatePerMin       int // API_REQUESTS_PER_MINUTE

	CallerBlacklist    []string // CALLER_BLACKLIST
	CallerWhitelist    []string // CALLER_WHITELIST
	BlockedCountries   []string // BLOCKED_COUNTRIES
	CallerNamePolicy   string   // CALLER_NAME_POLICY
	CallsPerMinute     int      // CALLS_PER_MINUTE
	MaxConcurrentCalls int      // MAX_CONCURRENT_CALLS

	RealtimeURL       string // REALTIME_URL
	RealtimeModel     string // REALTIME_MODEL
	RealtimeVoice     string // REALTIME_VOICE
	AgentInstructions string // AGENT_INSTRUCTIONS or AGENT_INSTRUCTIONS_FILE
	AgentGreeting     string // AGENT_GREETING
	AgentDialPolicy   string // AGENT_DIAL_POLICY
	// Toll-fraud guards for every dialled number (dial.go).
	DialDenyList         []string      // DIAL_DENY_LIST: E.164 numbers or prefixes such as +1900*
	DialHighCostPrefixes []string      // DIAL_HIGH_COST_PREFIXES: nil = dialguard.DefaultHighCost
	DialAllowedCountries []string      // DIAL_ALLOWED_COUNTRIES: ISO codes, "*" = any
	MaxCallDuration      time.Duration // MAX_CALL_DURATION
	CallIdleTimeout      time.Duration // CALL_IDLE_TIMEOUT
	PrewarmHold          time.Duration // PREWARM_HOLD
	ToolTimeout          time.Duration // TOOL_TIMEOUT
	// ToolAllowedNetworks are ranges HTTP tools may reach although the
	// egress guard refuses them (TOOL_ALLOWED_NETWORKS; empty by default).
	ToolAllowedNetworks []netip.Prefix

	MaxLogViewers           int    // MAX_LOG_VIEWERS
	LogsShowNumbers         bool   // LOGS_SHOW_NUMBERS
	AuditRetentionDays      int    // AUDIT_RETENTION_DAYS
	TranscriptRetentionDays int    // TRANSCRIPT_RETENTION_DAYS
	CallRetentionDays       int    // CALL_RETENTION_DAYS
	TranscriptionNotice     string // TRANSCRIPTION_NOTICE ("off": none), told to every caller first
	MetricsAddr             string // METRICS_ADDR
	PprofAddr               string // PPROF_ADDR (loopback only; off by default)
	// GCPercent is the garbage collector's target the server runs with:
	// GOGC when set (-1 for "off"), else DefaultGOGC.
	GCPercent int
}

// DefaultGOGC is the server's garbage-collection target when GOGC is
// unset: the heap may grow by half of what is live (plus goroutine stacks)
// between collections, against Go's default of 100 (double). A live call
// is mostly goroutine stacks and small buffers that churn little, so the
// extra collections cost little CPU and the memory each call holds falls
// by about a quarter (BENCHMARKS.md, "Relay memory per call"). GOGC=100
// restores Go's default; GOMEMLIMIT, read by the Go runtime itself, works
// with either.
const DefaultGOGC = 50

// Production reports whether APP_ENV is production.
func (c *Config) Production() bool { return c.Env == Production }

// Secrets lists every configured secret value, for leak checks in tests.
func (c *Config) Secrets() []string {
	var out []string
	for _, s := range []string{c.TwilioAuthToken, c.TwilioAPISecret, c.OpenAIAPIKey, c.PrivacyHashKey} {
		if s != "" {
			out = append(out, s)
		}
	}
	for _, t := range c.BearerTokens {
		out = append(out, t.Value)
	}
	if pw := databasePassword(c.DatabaseURL); pw != "" {
		out = append(out, pw)
	}
	return out
}

// Twilio identifiers: a fixed prefix and 32 hex digits.
var (
	accountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	apiKeySIDPattern  = regexp.MustCompile(`^SK[0-9a-fA-F]{32}$`)
)

// Load reads the configuration through getenv and validates it. Every error
// names the variable at fault.
func Load(getenv func(string) string) (*Config, error) {
	c, probs := load(getenv)
	if len(probs) > 0 {
		errs := make([]error, len(probs))
		for i, p := range probs {
			errs[i] = p
		}
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// load reads every variable and returns the configuration as far as it
// could be read, with every problem found (Load refuses any; LoadForCheck
// lists them).
func load(getenv func(string) string) (*Config, []problem) {
	l := loader{getenv: getenv}
	c := &Config{}
	c.Env = l.oneOf("APP_ENV", Development, Development, Production)
	c.EnvDefaulted = strings.TrimSpace(getenv("APP_ENV")) == ""
	prod := c.Env == Production
	c.Port = l.intRange("PORT", 8080, 0, 65535)
	c.PublicURL = l.publicURL("PUBLIC_URL")
	c.DatabaseURL = l.secret("DATABASE_URL")
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		l.fail("DATABASE_URL", "must start with postgres:// (leave it empty for the embedded SQLite database)")
	}
	c.DataDir = l.str("DATA_DIR", "./data")
	c.LogLevel = l.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error")
	defFormat := "text"
	if prod {
		defFormat = "json"
	}
	c.LogFormat = l.oneOf("LOG_FORMAT", defFormat, "text", "json")
	c.MaxBodyBytes = int64(l.intRange("MAX_BODY_BYTES", 5<<20, 1024, 64<<20))
	c.DrainTimeout = l.duration("SHUTDOWN_DRAIN_TIMEOUT", 30*time.Second)

	c.TwilioAccountSID = l.str("TWILIO_ACCOUNT_SID", "")
	if c.TwilioAccountSID != "" && !accountSIDPattern.MatchString(c.TwilioAccountSID) {
		l.fail("TWILIO_ACCOUNT_SID", "must be AC followed by 32 hex characters")
	}
	c.TwilioAuthToken = l.secret("TWILIO_AUTH_TOKEN")
	c.TwilioAPIKey = l.str("TWILIO_API_KEY", "")
	if c.TwilioAPIKey != "" && !apiKeySIDPattern.MatchString(c.TwilioAPIKey) {
		l.fail("TWILIO_API_KEY", "must be SK followed by 32 hex characters")
	}
	c.TwilioAPISecret = l.secret("TWILIO_API_SECRET")
	if (c.TwilioAPIKey == "") != (c.TwilioAPISecret == "") {
		l.fail("TWILIO_API_KEY", "TWILIO_API_KEY and TWILIO_API_SECRET must be set together")
	}
	c.TwilioPhoneNumber = l.phone("TWILIO_PHONE_NUMBER")
	c.TwilioOutboundNumber = l.phone("TWILIO_OUTBOUND_NUMBER")
	c.TwilioValidate = l.boolean("TWILIO_VALIDATE", true)
	c.loadOutbound(&l)

	c.OpenAIAPIKey = l.secret("OPENAI_API_KEY")

	c.BearerTokens = l.bearer("INTERNAL_API_BEARER", prod)
	if len(c.BearerTokens) == 0 && !prod && len(l.probs) == 0 {
		c.BearerTokens = []BearerToken{{Name: "primary", Value: randomToken()}}
		c.BearerGenerated = true
	}
	c.AllowedOrigins = l.list("ALLOWED_ORIGINS")
	c.TrustedProxies = l.prefixes("TRUSTED_PROXIES")
	c.PrivacyHashKey = l.secret("PRIVACY_HASH_KEY")
	if c.PrivacyHashKey == "" && !prod {
		c.PrivacyHashKey = randomToken()
		c.PrivacyKeyGenerated = true
	}
	c.AuthFailLimit = l.intRange("AUTH_FAILURE_LIMIT", 10, 1, 100000)
	c.APIRatePerMin = l.intRange("API_REQUESTS_PER_MINUTE", 600, 1, 1000000)

	c.CallerBlacklist = l.phones("CALLER_BLACKLIST")
	c.CallerWhitelist = l.phones("CALLER_WHITELIST")
	c.BlockedCountries = l.countries("BLOCKED_COUNTRIES")
	c.CallerNamePolicy = l.oneOf("CALLER_NAME_POLICY", CallerNameOff, CallerNameOff, CallerNameBlockUnknown, CallerNameBusinessOnly)
	c.CallsPerMinute = l.intRange("CALLS_PER_MINUTE", DefaultCallsPerMinute, 1, 1000000)
	c.MaxConcurrentCalls = l.intRange("MAX_CONCURRENT_CALLS", DefaultMaxConcurrentCalls, 1, 100000)

	c.RealtimeModel = l.str("REALTIME_MODEL", "gpt-realtime")
	c.RealtimeURL = l.wsURL("REALTIME_URL", "wss://api.openai.com/v1/realtime?model="+url.QueryEscape(c.RealtimeModel))
	c.RealtimeVoice = l.str("REALTIME_VOICE", "alloy")
	c.AgentInstructions = l.textOrFile("AGENT_INSTRUCTIONS", defaultInstructions)
	c.AgentGreeting = l.str("AGENT_GREETING", "Greet the caller briefly, say you are an AI assistant, and ask how you can help.")
	c.TranscriptionNotice = l.str("TRANSCRIPTION_NOTICE", DefaultTranscriptionNotice)
	if strings.EqualFold(c.TranscriptionNotice, "off") {
		c.TranscriptionNotice = ""
	}
	c.AgentDialPolicy = l.oneOf("AGENT_DIAL_POLICY", DialContactsOnly, DialContactsOnly, DialAny)
	c.loadDial(&l)
	c.MaxCallDuration = l.duration("MAX_CALL_DURATION", 30*time.Minute)
	c.CallIdleTimeout = l.duration("CALL_IDLE_TIMEOUT", 2*time.Minute)
	c.PrewarmHold = l.duration("PREWARM_HOLD", 15*time.Second)
	c.ToolTimeout = l.duration("TOOL_TIMEOUT", 10*time.Second)
	c.ToolAllowedNetworks = l.prefixes("TOOL_ALLOWED_NETWORKS")

	c.MaxLogViewers = l.intRange("MAX_LOG_VIEWERS", 20, 1, 10000)
	c.LogsShowNumbers = l.boolean("LOGS_SHOW_NUMBERS", false)
	c.AuditRetentionDays = l.intRange("AUDIT_RETENTION_DAYS", 30, 1, 3650)
	c.TranscriptRetentionDays = l.intRange("TRANSCRIPT_RETENTION_DAYS", 30, 1, 3650)
	c.CallRetentionDays = l.intRange("CALL_RETENTION_DAYS", 30, 1, 3650)
	c.MetricsAddr = l.str("METRICS_ADDR", "")
	c.PprofAddr = l.str("PPROF_ADDR", "")
	if c.PprofAddr != "" && !loopbackAddr(c.PprofAddr) {
		l.fail("PPROF_ADDR", "must be a loopback host:port such as 127.0.0.1:6060 (profiles expose memory contents)")
	}

	c.GCPercent = l.gogc("GOGC", DefaultGOGC)

	if prod {
		c.validateProduction(&l)
	}
	return c, l.probs
}

// Features reports which optional features are off because their
// variables are unset, for the start-up message.
func (c *Config) Features() (off []string) {
	if c.TwilioAuthToken == "" {
		off = append(off, "Twilio webhooks (set TWILIO_AUTH_TOKEN; unsigned webhooks are refused)")
	}
	if c.TwilioAccountSID == "" || (c.TwilioAuthToken == "" && c.TwilioAPIKey == "") {
		off = append(off, "conferences, forwarding and caller-name lookup (set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN or TWILIO_API_KEY/TWILIO_API_SECRET)")
	}
	if c.OpenAIAPIKey == "" {
		off = append(off, "the AI voice agent (set OPENAI_API_KEY)")
	}
	if c.PublicURL == nil {
		off = append(off, "media streams (set PUBLIC_URL to the https address Twilio reaches)")
	}
	return off
}

// String prints the configuration with every secret masked.
func (c *Config) String() string {
	var b strings.Builder
	pub := ""
	if c.PublicURL != nil {
		pub = c.PublicURL.String()
	}
	db := "sqlite:" + c.DataDir
	if c.DatabaseURL != "" {
		db = maskURL(c.DatabaseURL)
	}
	fmt.Fprintf(&b, "APP_ENV=%s PORT=%d PUBLIC_URL=%s DATABASE=%s LOG_LEVEL=%s LOG_FORMAT=%s ", c.Env, c.Port, pub, db, c.LogLevel, c.LogFormat)
	fmt.Fprintf(&b, "TWILIO_ACCOUNT_SID=%s TWILIO_AUTH_TOKEN=%s TWILIO_API_SECRET=%s OPENAI_API_KEY=%s INTERNAL_API_BEARER=%s PRIVACY_HASH_KEY=%s",
		maskSID(c.TwilioAccountSID), mask(c.TwilioAuthToken), mask(c.TwilioAPISecret), mask(c.OpenAIAPIKey), maskTokens(c.BearerTokens), mask(c.PrivacyHashKey))
	return b.String()
}

// GoString keeps %#v from printing secrets.
func (c *Config) GoString() string { return c.String() }

func mask(s string) string {
	if s == "" {
		return "(unset)"
	}
	return "****"
}

func maskSID(s string) string {
	if len(s) < 8 {
		return mask(s)
	}
	return s[:4] + "****"
}

func maskTokens(ts []BearerToken) string {
	if len(ts) == 0 {
		return "(unset)"
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name + ":****"
	}
	return strings.Join(names, ",")
}

func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "****")
	}
	return u.Redacted()
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("config: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

const defaultInstructions = `You are a polite telephone assistant. Keep answers short: the caller hears you, they do not read you.
When the caller asks to be connected to someone, use lookup_contact, then add_to_conference.
When the caller asks to be transferred, use forward_call. When the conversation is over, use end_call.
Never read out phone numbers in full.`

// loopbackAddr reports whether addr is host:port on a loopback address.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// The call limits a server admits under when CALLS_PER_MINUTE and
// MAX_CONCURRENT_CALLS are unset.
const (
	DefaultCallsPerMinute     = 10
	DefaultMaxConcurrentCalls = 50
)
