package relay

import "github.com/voiceagent/voiceagent/internal/config"

// settingsOf fills Settings from a loaded configuration as internal/app
// does (app.RelaySettings; app cannot be imported here), so tests keep the
// environment's defaults.
func settingsOf(cfg *config.Config) Settings {
	return Settings{
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
