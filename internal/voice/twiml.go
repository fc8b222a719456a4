package voice

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/twilio/twilio-go/twiml"
)

// NotAuthorizedMessage is said to callers refused by the allow list.
const NotAuthorizedMessage = "This number is not authorized."

// Links are the absolute addresses TwiML points Twilio at, built from
// PUBLIC_URL (never from a request's Host header).
type Links struct {
	// Accept is /voice/accept ("/voice/accept" relative when PUBLIC_URL
	// is unset, which only development allows).
	Accept string
	// StreamBase is "wss://<PUBLIC_URL host><path>/media-stream/"; empty
	// when PUBLIC_URL is not https, which refuses stream answers.
	StreamBase string
}

// DecisionTwiML returns the answer for a decision.
func DecisionTwiML(d Decision, reason string, links Links) (string, error) {
	switch d {
	case Accept:
		return twiml.Voice([]twiml.Element{
			&twiml.VoiceGather{
				Action:              links.Accept,
				Method:              "POST",
				Timeout:             "2",
				ActionOnEmptyResult: "true",
			},
			&twiml.VoiceRedirect{Url: links.Accept, Method: "POST"},
		})
	case Hangup:
		return twiml.Voice([]twiml.Element{
			&twiml.VoiceSay{Message: NotAuthorizedMessage},
			&twiml.VoiceHangup{},
		})
	case Busy:
		return twiml.Voice([]twiml.Element{&twiml.VoiceReject{Reason: "busy"}})
	case Reject:
		return twiml.Voice([]twiml.Element{&twiml.VoiceReject{}})
	default:
		return "", fmt.Errorf("voice: no TwiML for decision %q (reason %q)", d, reason)
	}
}

// StreamTwiML returns <Connect><Stream url="wss://host/media-stream/TOKEN">
// with the call SID and caller as <Parameter>s. The URL never carries a
// query string (Twilio does not support one); values are XML-escaped by
// the twiml package and stripped of characters XML cannot hold.
func StreamTwiML(streamBase, token, callSID, caller string) (string, error) {
	if !strings.HasPrefix(streamBase, "wss://") {
		return "", fmt.Errorf("voice: stream URL must be wss:// (PUBLIC_URL must be https)")
	}
	params := []twiml.Element{&twiml.VoiceParameter{Name: "callSid", Value: xmlSafe(callSID)}}
	if caller != "" {
		params = append(params, &twiml.VoiceParameter{Name: "caller", Value: xmlSafe(caller)})
	}
	return twiml.Voice([]twiml.Element{
		&twiml.VoiceConnect{InnerElements: []twiml.Element{
			&twiml.VoiceStream{Url: streamBase + token, InnerElements: params},
		}},
	})
}

// HangupTwiML is the answer for a call that has already ended: <Hangup/>.
func HangupTwiML() string {
	s, err := twiml.Voice([]twiml.Element{&twiml.VoiceHangup{}})
	if err != nil {
		return `<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>`
	}
	return s
}

// EmptyTwiML is an answer that does nothing further.
func EmptyTwiML() string {
	s, err := twiml.Voice(nil)
	if err != nil {
		return `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`
	}
	return s
}

// xmlSafe drops what XML 1.0 cannot represent (control characters,
// invalid UTF-8, non-characters), so an escaped value always parses.
func xmlSafe(s string) string {
	ok := true
	for _, r := range s {
		if !xmlChar(r) {
			ok = false
			break
		}
	}
	if ok && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r != utf8.RuneError && xmlChar(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}
