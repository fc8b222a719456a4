package httpapi

import (
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// maskEvent returns a copy of ev safe for a viewer: unless show is set,
// every string in Data passes through the one redaction function
// (redact.Data: phone numbers anywhere in free text, in the forms people
// write them; SIDs kept). The bus's copy is never modified.
func maskEvent(ev events.Event, show bool) events.Event {
	if show || len(ev.Data) == 0 {
		return ev
	}
	ev.Data = redact.Data(ev.Data)
	return ev
}
