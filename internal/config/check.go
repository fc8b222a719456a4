package config

import "fmt"

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
	add(c.TwilioAuthToken != "", severe, "TWILIO_AUTH_TOKEN", "set; webhook signatures are checked", "unset; every Twilio webhook will be refused")
	add(c.TwilioValidate, severe, "TWILIO_VALIDATE", "Twilio signature validation is on", "Twilio signature validation is OFF: anyone can drive the webhooks")
	add(c.OpenAIAPIKey != "", severe, "OPENAI_API_KEY", "set", "unset; the voice agent cannot answer")
	add(c.TwilioAccountSID != "", severe, "TWILIO_ACCOUNT_SID", "set", "unset; conferences and forwarding are off")
	add(c.TwilioAPIKey != "", Warn, "TWILIO_API_KEY", "REST calls use an API key (least privilege)", "REST calls use the account auth token; an API key is recommended")
	add(c.PublicURL != nil && c.PublicURL.Scheme == "https", severe, "PUBLIC_URL", "https", "not https (or unset); Twilio media streams need wss://")
	add(!c.BearerGenerated, severe, "INTERNAL_API_BEARER", "set", "unset; a random token is generated at each start")
	strong := true
	for _, t := range c.BearerTokens {
		if len(t.Value) < 32 {
			strong = false
		}
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
	add(c.DatabaseURL != "" || !c.Production(), Warn, "DATABASE_URL", "database chosen", "embedded SQLite in production: run one instance only")
	add(c.LogFormat == "json" || !c.Production(), Warn, "LOG_FORMAT", c.LogFormat, "text logs in production; json is easier to ship")
	add(!c.LogsShowNumbers, Warn, "LOGS_SHOW_NUMBERS", "phone numbers are masked for live viewers", "live viewers see full phone numbers")
	add(c.CallerNamePolicy == CallerNameOff || c.TwilioAccountSID != "", Warn, "CALLER_NAME_POLICY", c.CallerNamePolicy, "needs Twilio REST credentials; lookups will fail open")
	return out
}

// Failed reports whether any check failed.
func Failed(checks []Check) bool {
	for _, c := range checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}
