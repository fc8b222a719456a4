package config

import "strconv"

// DefaultTranscriptionNotice is what the agent tells every caller before
// anything else unless TRANSCRIPTION_NOTICE says otherwise: recording and
// transcription laws in two-party (all-party) consent jurisdictions
// require the caller to be told.
const DefaultTranscriptionNotice = "This call is handled by an AI assistant and is transcribed."

// GreetingPrompt is the instruction for the agent's first turn: the
// consent notice, word for word, then AGENT_GREETING.
func (c *Config) GreetingPrompt() string {
	if c.TranscriptionNotice == "" {
		return c.AgentGreeting
	}
	return "Begin by telling the caller, word for word: " + strconv.Quote(c.TranscriptionNotice) + " Then: " + c.AgentGreeting
}
