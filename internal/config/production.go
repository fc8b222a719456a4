package config

import (
	"net/url"
	"strings"
)

// validateProduction holds the rules that keep an unsafe configuration from
// starting in production.
func (c *Config) validateProduction(l *loader) {
	for _, req := range []struct{ name, value string }{
		{"TWILIO_ACCOUNT_SID", c.TwilioAccountSID},
		{"TWILIO_AUTH_TOKEN", c.TwilioAuthToken},
		{"OPENAI_API_KEY", c.OpenAIAPIKey},
		{"PRIVACY_HASH_KEY", c.PrivacyHashKey},
	} {
		if req.value == "" {
			l.fail(req.name, "is required in production")
		}
	}
	if c.PublicURL == nil {
		l.fail("PUBLIC_URL", "is required in production")
	} else if c.PublicURL.Scheme != "https" {
		l.fail("PUBLIC_URL", "must be https in production")
	}
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			l.fail("ALLOWED_ORIGINS", "must not be * in production")
		}
	}
	if !c.TwilioValidate {
		l.fail("TWILIO_VALIDATE", "cannot be false in production")
	}
	if len(c.PrivacyHashKey) > 0 && len(c.PrivacyHashKey) < 32 {
		l.fail("PRIVACY_HASH_KEY", "must be at least 32 characters in production")
	}
	// A copied .env.example must not reach production: its placeholders
	// are long enough to pass the length rules.
	for _, s := range []struct{ name, value string }{
		{"TWILIO_AUTH_TOKEN", c.TwilioAuthToken},
		{"TWILIO_API_SECRET", c.TwilioAPISecret},
		{"OPENAI_API_KEY", c.OpenAIAPIKey},
		{"PRIVACY_HASH_KEY", c.PrivacyHashKey},
	} {
		if placeholder(s.value) {
			l.fail(s.name, placeholderMsg)
		}
	}
	for _, t := range c.BearerTokens {
		if placeholder(t.Value) {
			l.fail("INTERNAL_API_BEARER", placeholderMsg)
			break
		}
	}
	if placeholder(databasePassword(c.DatabaseURL)) {
		l.fail("DATABASE_URL", "password "+placeholderMsg)
	}
	c.validateUnsafe(l)
}

const placeholderMsg = "holds a placeholder from .env.example; set the real value"

// placeholderMarks are the shapes of .env.example's placeholder values.
var placeholderMarks = []string{"replace-with", "change-me", "changeme", "your-", "xxxxxxxx", "example"}

// placeholder reports whether a secret still looks like a placeholder
// from .env.example rather than a real value.
func placeholder(s string) bool {
	s = strings.ToLower(s)
	for _, m := range placeholderMarks {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// databasePassword returns the password in a postgres:// URL, if any.
func databasePassword(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}
