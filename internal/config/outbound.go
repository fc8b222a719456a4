package config

import (
	"net/url"
	"strings"

	"github.com/voiceagent/voiceagent/internal/outbound"
)

// Outbound calls (POST /api/calls) and the REST API they go through.
type Outbound struct {
	// APIBaseURL is TWILIO_API_BASE_URL: where Twilio's Voice REST API
	// is (https://api.twilio.com), or a Twilio-compatible provider's.
	APIBaseURL string
	// QuietHours is OUTBOUND_QUIET_HOURS (nil: off).
	QuietHours *outbound.QuietHours
	PerMinute  int // OUTBOUND_CALLS_PER_MINUTE
	PerDay     int // OUTBOUND_CALLS_PER_DAY
}

// loadOutbound reads the outbound-call settings.
func (c *Config) loadOutbound(l *loader) {
	c.Outbound.APIBaseURL = strings.TrimRight(l.str("TWILIO_API_BASE_URL", "https://api.twilio.com"), "/")
	if u, err := url.Parse(c.Outbound.APIBaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		l.fail("TWILIO_API_BASE_URL", "must be an http(s) URL such as https://api.twilio.com, without credentials, query or fragment")
	}
	q, err := outbound.ParseQuietHours(l.str("OUTBOUND_QUIET_HOURS", "21:00-08:00"))
	if err != nil {
		l.fail("OUTBOUND_QUIET_HOURS", err.Error())
	}
	c.Outbound.QuietHours = q
	c.Outbound.PerMinute = l.intRange("OUTBOUND_CALLS_PER_MINUTE", 10, 1, 10000)
	c.Outbound.PerDay = l.intRange("OUTBOUND_CALLS_PER_DAY", 500, 1, 1000000)
}

// OutboundFrom is the caller ID of outbound calls that name none:
// TWILIO_OUTBOUND_NUMBER, else TWILIO_PHONE_NUMBER.
func (c *Config) OutboundFrom() string {
	if c.TwilioOutboundNumber != "" {
		return c.TwilioOutboundNumber
	}
	return c.TwilioPhoneNumber
}
