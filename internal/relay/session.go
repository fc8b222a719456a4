package relay

// The GA session.update shape (docs/protocols.md, "Realtime
// session.update"). Audio is audio/pcmu both ways, the format Twilio
// streams, so caller payloads pass through untouched and model audio needs
// no transcoding.

type sessionConfig struct {
	Type             string      `json:"type"`
	Model            string      `json:"model,omitempty"`
	OutputModalities []string    `json:"output_modalities"`
	Instructions     string      `json:"instructions"`
	Audio            audioConfig `json:"audio"`
	Tools            []toolDecl  `json:"tools"`
	ToolChoice       string      `json:"tool_choice"`
}

type audioConfig struct {
	Input  audioInput  `json:"input"`
	Output audioOutput `json:"output"`
}

type audioFormat struct {
	Type string `json:"type"`
}

type audioInput struct {
	Format        audioFormat   `json:"format"`
	Transcription transcription `json:"transcription"`
	TurnDetection turnDetection `json:"turn_detection"`
}

type transcription struct {
	Model string `json:"model"`
}

type turnDetection struct {
	Type              string  `json:"type"`
	Threshold         float64 `json:"threshold"`
	PrefixPaddingMs   int     `json:"prefix_padding_ms"`
	SilenceDurationMs int     `json:"silence_duration_ms"`
	CreateResponse    bool    `json:"create_response"`
	InterruptResponse bool    `json:"interrupt_response"`
}

type audioOutput struct {
	Format audioFormat `json:"format"`
	Voice  string      `json:"voice"`
}

type toolDecl struct {
	Type        string         `json:"type"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Parameters  map[string]any `json:"parameters"`
}

// sessionUpdateTools builds the session.update event sent on every new model
// socket, with the tools of the call's agent (the environment's: toolDecls).
func sessionUpdateTools(model, voice, instructions string, tools []toolDecl) []byte {
	return marshalEvent(clientEvent{Type: "session.update", Session: sessionConfig{
		Type:             "realtime",
		Model:            model,
		OutputModalities: []string{"audio"},
		Instructions:     instructions,
		Audio: audioConfig{
			Input: audioInput{
				Format:        audioFormat{Type: "audio/pcmu"},
				Transcription: transcription{Model: "whisper-1"},
				TurnDetection: turnDetection{
					Type:              "server_vad",
					Threshold:         0.5,
					PrefixPaddingMs:   300,
					SilenceDurationMs: 500,
					CreateResponse:    true,
					InterruptResponse: true,
				},
			},
			Output: audioOutput{Format: audioFormat{Type: "audio/pcmu"}, Voice: voice},
		},
		Tools:      tools,
		ToolChoice: "auto",
	}})
}

func stringProp(desc string) map[string]any {
	return map[string]any{"type": "string", "description": desc}
}

func targetParams() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"contact_name": stringProp("Name or alias of a saved contact."),
			"number":       stringProp("Phone number in E.164 form (+ and digits), only if the caller gave one and it is allowed."),
		},
	}
}

// toolDecls lists the functions the model may call.
func toolDecls() []toolDecl {
	return []toolDecl{
		{
			Type: "function", Name: toolLookupContact,
			Description: "Find a saved contact by name or alias. Returns the contact's name and whether a number is on file.",
			Parameters: map[string]any{
				"type":       "object",
				"properties": map[string]any{"name": stringProp("The name the caller said.")},
				"required":   []string{"name"},
			},
		},
		{
			Type: "function", Name: toolAddToConference,
			Description: "Put the caller into a conference and dial the contact (or number) in. The AI leaves the call.",
			Parameters:  targetParams(),
		},
		{
			Type: "function", Name: toolForwardCall,
			Description: "Forward the caller's call to the contact (or number). The AI leaves the call.",
			Parameters:  targetParams(),
		},
		{
			Type: "function", Name: toolEndCall,
			Description: "End the call after a short goodbye, when the conversation is over.",
			Parameters: map[string]any{
				"type":       "object",
				"properties": map[string]any{"reason": stringProp("Why the call ends, in a few words.")},
			},
		},
	}
}

// betaSession is the preview session.update shape (docs/protocols.md), sent
// only to servers that announce themselves with it (older deployments and
// compatible servers).
type betaSession struct {
	Modalities        []string      `json:"modalities"`
	Instructions      string        `json:"instructions"`
	Voice             string        `json:"voice"`
	InputAudioFormat  string        `json:"input_audio_format"`
	OutputAudioFormat string        `json:"output_audio_format"`
	InputTranscribe   transcription `json:"input_audio_transcription"`
	TurnDetection     turnDetection `json:"turn_detection"`
	Tools             []toolDecl    `json:"tools"`
	ToolChoice        string        `json:"tool_choice"`
}

func sessionUpdateBetaTools(voice, instructions string, tools []toolDecl) []byte {
	return marshalEvent(clientEvent{Type: "session.update", Session: betaSession{
		Modalities:        []string{"text", "audio"},
		Instructions:      instructions,
		Voice:             voice,
		InputAudioFormat:  "g711_ulaw",
		OutputAudioFormat: "g711_ulaw",
		InputTranscribe:   transcription{Model: "whisper-1"},
		TurnDetection: turnDetection{
			Type: "server_vad", Threshold: 0.5, PrefixPaddingMs: 300, SilenceDurationMs: 500,
			CreateResponse: true, InterruptResponse: true,
		},
		Tools:      tools,
		ToolChoice: "auto",
	}})
}
