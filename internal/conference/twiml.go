package conference

import (
	"fmt"
	"strings"

	"github.com/twilio/twilio-go/twiml"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

// maxTwiML is Twilio's limit for inline TwiML on a call update.
const maxTwiML = 4000

// joinTwiML moves a call into the conference. The caller's leaving ends
// the conference, so dialled targets are not left alone in it.
func joinTwiML(name, eventsURL string) (string, error) {
	conf := &twiml.VoiceConference{
		Name:                   name,
		StartConferenceOnEnter: "true",
		EndConferenceOnExit:    "true",
		Beep:                   "false",
	}
	if eventsURL != "" {
		conf.StatusCallback = eventsURL
		conf.StatusCallbackMethod = "POST"
		conf.StatusCallbackEvent = "start end join leave mute hold modify"
	}
	return render(&twiml.VoiceDial{InnerElements: []twiml.Element{conf}})
}

// forwardTwiML dials target with the outbound number as caller ID.
func forwardTwiML(target, callerID string) (string, error) {
	return render(&twiml.VoiceDial{Number: target, CallerId: callerID})
}

// sayHangupTwiML speaks message, then hangs up.
func sayHangupTwiML(message string) (string, error) {
	message = strings.TrimSpace(message)
	verbs := []twiml.Element{}
	if message != "" {
		verbs = append(verbs, &twiml.VoiceSay{Message: message})
	}
	return render(append(verbs, &twiml.VoiceHangup{})...)
}

func render(verbs ...twiml.Element) (string, error) {
	doc, err := twiml.Voice(verbs)
	if err != nil {
		return "", fmt.Errorf("render twiml: %w", err)
	}
	if len(doc) > maxTwiML {
		return "", apperr.New(apperr.Invalid, "message is too long")
	}
	return doc, nil
}
