package relay

import (
	"time"

	"github.com/voiceagent/voiceagent/internal/config"
)

// Settings are the relay's configuration: the Realtime endpoint and the
// environment's agent, and the limits of a call. internal/app fills them
// from config.Config.
type Settings struct {
	OpenAIAPIKey        string // empty: the agent is off (Enabled)
	RealtimeURL         string
	RealtimeModel       string
	RealtimeVoice       string
	AgentInstructions   string
	AgentGreeting       string
	AgentDialPolicy     string // config.DialContactsOnly or config.DialAny
	TranscriptionNotice string // told to every caller first; empty: none
	MaxConcurrentCalls  int
	MaxCallDuration     time.Duration
	CallIdleTimeout     time.Duration
	PrewarmHold         time.Duration
	ToolTimeout         time.Duration
	Production          bool // panics are logged without their stack
}

// GreetingPrompt is the first instruction for the environment's agent:
// the transcription notice, if any, then the greeting.
func (s Settings) GreetingPrompt() string {
	cc := config.Config{TranscriptionNotice: s.TranscriptionNotice, AgentGreeting: s.AgentGreeting}
	return cc.GreetingPrompt()
}
