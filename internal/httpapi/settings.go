package httpapi

import (
	"net/netip"
	"net/url"

	"github.com/voiceagent/voiceagent/internal/config"
)

// Settings are the server's configuration: its public address, the
// credentials it checks, and its request limits. internal/app fills them
// from config.Config.
type Settings struct {
	PublicURL          *url.URL // scheme and host of the webhook URLs Twilio signs
	MaxBodyBytes       int64
	TwilioAuthToken    string
	TwilioValidate     bool // check X-Twilio-Signature
	BearerTokens       []config.BearerToken
	AllowedOrigins     []string
	TrustedProxies     []netip.Prefix
	AuthFailLimit      int
	APIRatePerMin      int
	MaxConcurrentCalls int
	CallsPerMinute     int
	MaxLogViewers      int
	LogsShowNumbers    bool
	MetricsAddr        string
	Production         bool   // panics and errors are reported without detail
	DevelopmentWarning string // shown by /health when development defaults are on; empty: none
}
