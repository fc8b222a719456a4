package httpapi

import "github.com/voiceagent/voiceagent/internal/config"

// settingsOf fills Settings from a loaded configuration as internal/app
// does (app.HTTPSettings; app cannot be imported here).
func settingsOf(cfg *config.Config) Settings {
	return Settings{
		PublicURL:          cfg.PublicURL,
		MaxBodyBytes:       cfg.MaxBodyBytes,
		TwilioAuthToken:    cfg.TwilioAuthToken,
		TwilioValidate:     cfg.TwilioValidate,
		BearerTokens:       cfg.BearerTokens,
		AllowedOrigins:     cfg.AllowedOrigins,
		TrustedProxies:     cfg.TrustedProxies,
		AuthFailLimit:      cfg.AuthFailLimit,
		APIRatePerMin:      cfg.APIRatePerMin,
		MaxConcurrentCalls: cfg.MaxConcurrentCalls,
		CallsPerMinute:     cfg.CallsPerMinute,
		MaxLogViewers:      cfg.MaxLogViewers,
		LogsShowNumbers:    cfg.LogsShowNumbers,
		MetricsAddr:        cfg.MetricsAddr,
		Production:         cfg.Production(),
		DevelopmentWarning: cfg.DevelopmentDefaultsWarning(),
	}
}
