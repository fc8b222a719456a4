package config

import (
	"fmt"
	"strings"
)

// Status is the outcome of one checklist line.
type Status string

// Checklist outcomes.
const (
	Pass Status = "PASS"
	Warn Status = "WARN"
	Fail Status = "FAIL"
)

// Check is one line of the security checklist printed by `voiceagent check`
// and audited at start.
type Check struct {
	Status Status
	Name   string
	Detail string
}

// String formats the line as "PASS  name: detail".
func (c Check) String() string { return fmt.Sprintf("%-4s  %s: %s", c.Status, c.Name, c.Detail) }

// Checklist rates a loaded configuration. Load already refuses what
// production must not start with; this adds the softer advice.
func (c *Config) Checklist() []Check {
	var out []Check
	add := func(ok bool, failStatus Status, name, pass, fail string) {
		if ok {
			out = append(out, Check{Pass, name, pass})
		} else {
			out = append(out, Check{failStatus, name, fail})
		}
	}
	severe := Warn
	if c.Production() {
		severe = Fail
	}
	// secret rates a secret: unset gets unsetStatus, a .env.example
	// placeholder is severe, anything else passes. The value never
	// reaches the line.
	secret := func(name, value string, unsetStatus Status, pass, unset string) {
		switch {
		case value == "":
			out = append(out, Check{unsetStatus, name, unset})
		case placeholder(value):
			out = append(out, Check{severe, name, placeholderMsg})
		default:
			out = append(out, Check{Pass, name, pass})
		}
	}
	secret("TWILIO_AUTH_TOKEN", c.TwilioAuthToken, severe, "set; webhook signatures are checked", "unset; every Twilio webhook will be refused")
	add(c.TwilioValidate, severe, "TWILIO_VALIDATE", "Twilio signature validation is on", "Twilio signature validation is OFF: anyone can drive the webhooks")
	secret("OPENAI_API_KEY", c.OpenAIAPIKey, severe, "set", "unset; the voice agent cannot answer")
	add(c.TwilioAccountSID != "", severe, "TWILIO_ACCOUNT_SID", "set", "unset; conferences and forwarding are off")
	add(c.TwilioAPIKey != "", Warn, "TWILIO_API_KEY", "REST calls use an API key (least privilege)", "REST calls use the account auth token; an API key is recommended")
	if c.TwilioAPISecret != "" {
		secret("TWILIO_API_SECRET", c.TwilioAPISecret, severe, "set", "")
	}
	switch {
	case c.PrivacyKeyGenerated:
		out = append(out, Check{Warn, "PRIVACY_HASH_KEY", "unset; a random key is generated at each start"})
	case c.PrivacyHashKey != "" && len(c.PrivacyHashKey) < 32:
		out = append(out, Check{severe, "PRIVACY_HASH_KEY", "shorter than 32 characters"})
	default:
		secret("PRIVACY_HASH_KEY", c.PrivacyHashKey, severe, "set", "unset")
	}
	add(c.PublicURL != nil && c.PublicURL.Scheme == "https", severe, "PUBLIC_URL", "https", "not https (or unset); Twilio media streams need wss://")
	bearerPlaceholder := false
	strong := true
	for _, t := range c.BearerTokens {
		if len(t.Value) < 32 {
			strong = false
		}
		if placeholder(t.Value) {
			bearerPlaceholder = true
		}
	}
	switch {
	case c.BearerGenerated || len(c.BearerTokens) == 0:
		out = append(out, Check{severe, "INTERNAL_API_BEARER", "unset; a random token is generated at each start"})
	case bearerPlaceholder:
		out = append(out, Check{severe, "INTERNAL_API_BEARER", placeholderMsg})
	default:
		out = append(out, Check{Pass, "INTERNAL_API_BEARER", "set"})
	}
	add(strong, severe, "INTERNAL_API_BEARER strength", "every token has at least 32 characters", "a token is shorter than 32 characters")
	add(len(c.BearerTokens) < 2, Warn, "INTERNAL_API_BEARER rotation", "one token", "two tokens accepted; remove the old one when clients have moved")
	wildcard := false
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			wildcard = true
		}
	}
	add(!wildcard, severe, "ALLOWED_ORIGINS", "no wildcard", "* allows any web page to call the API")
	if placeholder(databasePassword(c.DatabaseURL)) {
		out = append(out, Check{severe, "DATABASE_URL", "password " + placeholderMsg})
	} else {
		add(c.DatabaseURL != "" || !c.Production(), Warn, "DATABASE_URL", "database chosen", "embedded SQLite in production: run one instance only")
	}
	add(c.LogFormat == "json" || !c.Production(), Warn, "LOG_FORMAT", c.LogFormat, "text logs in production; json is easier to ship")
	// Transcripts are always kept (TRANSCRIPT_RETENTION_DAYS), so callers
	// must be told.
	add(c.TranscriptionNotice != "" || !c.Production(), Warn, "TRANSCRIPTION_NOTICE", "callers are told the call is handled by an AI assistant and transcribed",
		"off: callers are not told that an AI assistant answers and that the call is transcribed (two-party consent laws require it)")
	add(!c.LogsShowNumbers, Warn, "LOGS_SHOW_NUMBERS", "phone numbers are masked for live viewers", "live viewers see full phone numbers")
	add(c.CallerNamePolicy == CallerNameOff || c.TwilioAccountSID != "", Warn, "CALLER_NAME_POLICY", c.CallerNamePolicy, "needs Twilio REST credentials; lookups will fail open")
	out = append(out, c.unsafeWarnings()...)
	return out
}

// LoadForCheck is Load for `voiceagent check`: instead of refusing, it
// returns the whole checklist with every problem Load would refuse (a
// missing or placeholder secret, a value that does not parse, a production
// rule) as a FAIL line naming its variable, in place of the checklist
// lines for that variable, which a half-read value would make misleading.
// No line holds a secret value.
func LoadForCheck(getenv func(string) string) []Check {
	c, probs := load(getenv)
	byVar := map[string][]problem{}
	var order []string
	for _, p := range probs {
		k := checkVar(p.name)
		if _, seen := byVar[k]; !seen {
			order = append(order, k)
		}
		byVar[k] = append(byVar[k], p)
	}
	fails := func(ps []problem) []Check {
		out := make([]Check, len(ps))
		for i, p := range ps {
			out[i] = Check{Fail, p.name, p.msg}
		}
		return out
	}
	var out []Check
	done := map[string]bool{}
	for _, row := range c.Checklist() {
		k := checkVar(row.Name)
		ps, bad := byVar[k]
		if !bad {
			out = append(out, row)
			continue
		}
		if !done[k] {
			done[k] = true
			out = append(out, fails(ps)...)
		}
	}
	for _, k := range order {
		if !done[k] {
			out = append(out, fails(byVar[k])...)
		}
	}
	return out
}

// checkVar is the variable a checklist line or problem is about:
// "INTERNAL_API_BEARER strength" and "INTERNAL_API_BEARER_FILE" are both
// INTERNAL_API_BEARER.
func checkVar(name string) string {
	v, _, _ := strings.Cut(name, " ")
	return strings.TrimSuffix(v, "_FILE")
}
