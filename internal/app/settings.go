package app

import (
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/httpapi"
	"github.com/voiceagent/voiceagent/internal/relay"
)

// RelaySettings are the parts of the configuration the relay reads.
func RelaySettings(cfg *config.Config) relay.Settings {
	return relay.Settings{
		OpenAIAPIKey:        cfg.OpenAIAPIKey,
		RealtimeURL:         cfg.RealtimeURL,
		RealtimeModel:       cfg.RealtimeModel,
		RealtimeVoice:       cfg.RealtimeVoice,
		AgentInstructions:   cfg.AgentInstructions,
		AgentGreeting:       cfg.AgentGreeting,
		AgentDialPolicy:     cfg.AgentDialPolicy,
		TranscriptionNotice: cfg.TranscriptionNotice,
		MaxConcurrentCalls:  cfg.MaxConcurrentCalls,
		MaxCallDuration:     cfg.MaxCallDuration,
		CallIdleTimeout:     cfg.CallIdleTimeout,
		PrewarmHold:         cfg.PrewarmHold,
		ToolTimeout:         cfg.ToolTimeout,
		Production:          cfg.Production(),
	}
}

// HTTPSettings are the parts of the configuration the HTTP server reads.
func HTTPSettings(cfg *config.Config) httpapi.Settings {
	return httpapi.Settings{
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
