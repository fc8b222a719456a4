package config

import (
	"strings"

	"github.com/voiceagent/voiceagent/internal/dialguard"
)

// loadDial reads the toll-fraud settings for every number the system
// dials (internal/dialguard) and checks them by building a guard.
func (c *Config) loadDial(l *loader) {
	c.DialDenyList = l.list("DIAL_DENY_LIST")
	switch v := strings.TrimSpace(l.getenv("DIAL_HIGH_COST_PREFIXES")); {
	case v == "":
		c.DialHighCostPrefixes = nil // the default list
	case strings.EqualFold(v, "none"):
		c.DialHighCostPrefixes = []string{}
	default:
		c.DialHighCostPrefixes = l.list("DIAL_HIGH_COST_PREFIXES")
	}
	c.DialAllowedCountries = l.list("DIAL_ALLOWED_COUNTRIES")
	for i, cc := range c.DialAllowedCountries {
		c.DialAllowedCountries[i] = strings.ToUpper(cc)
	}
	for _, check := range []struct {
		name string
		s    dialguard.Settings
	}{
		{"DIAL_DENY_LIST", dialguard.Settings{Deny: c.DialDenyList}},
		{"DIAL_HIGH_COST_PREFIXES", dialguard.Settings{HighCost: c.DialHighCostPrefixes}},
		{"DIAL_ALLOWED_COUNTRIES", dialguard.Settings{Countries: c.DialAllowedCountries}},
	} {
		if _, err := dialguard.New(check.s); err != nil {
			l.fail(check.name, "holds "+err.Error())
		}
	}
}

// DialGuardSettings are the guard's settings from this configuration:
// deny list (CALLER_BLACKLIST and DIAL_DENY_LIST), high-cost prefixes,
// the service's own numbers and the allowed countries (by default the
// country of TWILIO_OUTBOUND_NUMBER, else TWILIO_PHONE_NUMBER).
func (c *Config) DialGuardSettings() dialguard.Settings {
	own := []string{}
	for _, n := range []string{c.TwilioOutboundNumber, c.TwilioPhoneNumber} {
		if n != "" {
			own = append(own, n)
		}
	}
	return dialguard.Settings{
		Deny:       append(append([]string{}, c.CallerBlacklist...), c.DialDenyList...),
		HighCost:   c.DialHighCostPrefixes,
		OwnNumbers: own,
		Countries:  c.DialAllowedCountries,
	}
}
