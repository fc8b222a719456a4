package app

import (
	"fmt"

	"github.com/voiceagent/voiceagent/internal/agents"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/egress"
)

// buildAgents builds the agents service: the default agent from the
// environment, tool secrets sealed under a key derived from
// PRIVACY_HASH_KEY, tool URLs checked against APP_ENV and
// TOOL_ALLOWED_NETWORKS.
func (a *App) buildAgents() error {
	cfg := a.Config
	sealer, err := agents.NewSealer(cfg.PrivacyHashKey)
	if err != nil {
		return fmt.Errorf("agents: %w", err)
	}
	dial := agents.DialContactsOnly
	if cfg.AgentDialPolicy == config.DialAny {
		dial = agents.DialAny
	}
	allowHTTP := !cfg.Production()
	allowed := cfg.ToolAllowedNetworks
	a.Agents = agents.NewService(a.DB.Agents(), a.Audit, sealer, agents.Settings{
		Default: agents.Agent{
			Name: "Default (from the environment)", Instructions: cfg.AgentInstructions, Greeting: cfg.AgentGreeting,
			Voice: cfg.RealtimeVoice, Model: cfg.RealtimeModel, DialPolicy: dial,
			MaxCallDuration: cfg.MaxCallDuration, IdleTimeout: cfg.CallIdleTimeout,
		},
		Limits:        agents.Limits{MaxCallDuration: cfg.MaxCallDuration, IdleTimeout: cfg.CallIdleTimeout, AllowAnyDial: cfg.AgentDialPolicy == config.DialAny},
		CheckURL:      func(u string) error { return egress.CheckURL(u, allowHTTP, allowed) },
		ServiceNumber: cfg.TwilioPhoneNumber,
	})
	return nil
}
