package relay

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
)

// twilioEvent is the kind of a Twilio Media Streams message.
type twilioEvent uint8

// Twilio message kinds.
const (
	twUnknown twilioEvent = iota
	twConnected
	twStart
	twMedia
	twMark
	twDTMF
	twStop
)

// twilioMsg is one decoded Twilio message. Byte slices point into the
// frame that was decoded and are valid only until the next read.
type twilioMsg struct {
	Event     twilioEvent
	StreamSID []byte
	// media
	Payload   []byte // base64, exactly as sent
	Timestamp int64  // ms since stream start; -1 when absent
	Track     []byte
	// mark
	MarkName []byte
	// dtmf
	Digit []byte
	// start (decoded with encoding/json: once per call)
	Start twilioStart
	// startRaw holds the start object until decodeStart runs.
	startRaw []byte
}

// twilioStart is the payload of the start message.
type twilioStart struct {
	AccountSID       string            `json:"accountSid"`
	StreamSID        string            `json:"streamSid"`
	CallSID          string            `json:"callSid"`
	Tracks           []string          `json:"tracks"`
	CustomParameters map[string]string `json:"customParameters"`
	MediaFormat      struct {
		Encoding   string          `json:"encoding"`
		SampleRate json.RawMessage `json:"sampleRate"`
		Channels   json.RawMessage `json:"channels"`
	} `json:"mediaFormat"`
}

var (
	errNoEvent     = errors.New("message has no event")
	errBadMedia    = errors.New("media message without a valid payload")
	errBadStart    = errors.New("malformed start message")
	errBadMark     = errors.New("mark message without a name")
	errBadDTMF     = errors.New("dtmf message without a digit")
	errBadStreamID = errors.New("stream SID is not alphanumeric")
)

// reset clears m for reuse without freeing anything.
func (m *twilioMsg) reset() {
	*m = twilioMsg{Timestamp: -1}
}

// decodeTwilio parses one Twilio message into m (reused between frames).
// Only the start message allocates.
func decodeTwilio(data []byte, m *twilioMsg) error {
	m.reset()
	var media, mark, dtmf []byte
	var eventSeen bool
	err := scanObject(data, func(key []byte, v jsonValue) bool {
		switch string(key) {
		case "event":
			eventSeen = true
			m.Event = twilioEventOf(v)
		case "streamSid":
			m.StreamSID = nil
			if v.str {
				m.StreamSID = v.bytes()
			}
		case "media":
			media = v.raw
		case "mark":
			mark = v.raw
		case "dtmf":
			dtmf = v.raw
		case "start":
			m.startRaw = v.raw
		}
		return true
	})
	if err != nil {
		return err
	}
	if !eventSeen {
		return errNoEvent
	}
	if m.StreamSID != nil && !alnum(m.StreamSID) {
		return errBadStreamID
	}
	switch m.Event {
	case twMedia:
		return decodeMedia(media, m)
	case twMark:
		if mark == nil || scanObject(mark, func(key []byte, v jsonValue) bool {
			if string(key) == "name" {
				m.MarkName = v.bytes()
			}
			return true
		}) != nil || len(m.MarkName) == 0 {
			return errBadMark
		}
	case twDTMF:
		if dtmf == nil || scanObject(dtmf, func(key []byte, v jsonValue) bool {
			if string(key) == "digit" {
				m.Digit = v.bytes()
			}
			return true
		}) != nil || len(m.Digit) != 1 || !validDigit(m.Digit[0]) {
			return errBadDTMF
		}
	case twStart:
		var err error
		if m.startRaw != nil {
			aside(func() { err = json.Unmarshal(m.startRaw, &m.Start) })
		}
		if m.startRaw == nil || err != nil {
			return errBadStart
		}
		if m.StreamSID == nil {
			m.StreamSID = []byte(m.Start.StreamSID)
		}
		if !alnum([]byte(m.Start.StreamSID)) || !alnum([]byte(m.Start.CallSID)) {
			return errBadStart
		}
	}
	return nil
}

func decodeMedia(media []byte, m *twilioMsg) error {
	if media == nil {
		return errBadMedia
	}
	err := scanObject(media, func(key []byte, v jsonValue) bool {
		switch string(key) {
		case "payload":
			// Base64 never needs an escape: an escaped payload would
			// be unescaped here and then no longer fit verbatim into
			// the append event's JSON string.
			m.Payload = nil
			if v.str && !v.escaped {
				m.Payload = v.raw
			}
		case "timestamp":
			m.Timestamp = -1
			if ts, ok := parseInt(v); ok {
				m.Timestamp = ts
			}
		case "track":
			m.Track = v.bytes()
		}
		return true
	})
	if err != nil || m.Payload == nil {
		return errBadMedia
	}
	return nil
}

func twilioEventOf(v jsonValue) twilioEvent {
	if !v.str {
		return twUnknown
	}
	switch string(v.bytes()) {
	case "media":
		return twMedia
	case "mark":
		return twMark
	case "start":
		return twStart
	case "stop":
		return twStop
	case "dtmf":
		return twDTMF
	case "connected":
		return twConnected
	}
	return twUnknown
}

func alnum(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func validDigit(c byte) bool {
	return c >= '0' && c <= '9' || c == '*' || c == '#' || c >= 'A' && c <= 'D' || c == 'w'
}

// checkPayload validates a base64 mu-law payload and returns its decoded
// size, decoding it piece by piece into a small array on the stack, so
// nothing is allocated and no call holds a frame-sized scratch buffer.
// The payload is forwarded verbatim inside a JSON string, so it must hold
// only base64 alphabet and padding: the decoder refuses every other byte
// except CR and LF, which it skips, so those are refused here.
func checkPayload(payload []byte) (int, error) {
	if base64.StdEncoding.DecodedLen(len(payload)) > maxFrameBytes {
		return 0, errFrameTooLarge
	}
	if bytes.IndexByte(payload, '\n') >= 0 || bytes.IndexByte(payload, '\r') >= 0 {
		return 0, errPayloadNotBase64
	}
	// Pieces are whole 4-character groups, so each decodes on its own;
	// padding may only end the last one, as in one Decode of the whole.
	var scratch [payloadPiece / 4 * 3]byte
	defer clear(scratch[:]) // it held caller audio
	n := 0
	for len(payload) > payloadPiece {
		piece := payload[:payloadPiece]
		if bytes.IndexByte(piece, '=') >= 0 {
			return n, errPayloadNotBase64
		}
		k, err := base64.StdEncoding.Decode(scratch[:], piece)
		n += k
		if err != nil {
			return n, err
		}
		payload = payload[payloadPiece:]
	}
	k, err := base64.StdEncoding.Decode(scratch[:], payload)
	return n + k, err
}

// payloadPiece is how many base64 characters checkPayload decodes at a
// time (a 20 ms frame, 216 characters, is one piece).
const payloadPiece = 256

var (
	errFrameTooLarge    = errors.New("media frame over the size cap")
	errPayloadNotBase64 = errors.New("media payload is not plain base64")
)

// Outbound Twilio messages are assembled by hand: they are tiny, fixed in
// shape, and one is written for every 20 ms of agent audio.

// The fixed parts of the outbound media and mark messages; their lengths
// size the buffer reserved for one model delta.
const (
	mediaHead = `{"event":"media","streamSid":"`
	mediaMid  = `","media":{"payload":"`
	mediaTail = `"}}`
	markHead  = `{"event":"mark","streamSid":"`
	markMid   = `","mark":{"name":"m`
	markTail  = `"}}`
)

// twilioMediaLen is the length of a media message carrying one frame.
func twilioMediaLen(sidLen int) int {
	return len(mediaHead) + sidLen + len(mediaMid) + base64.StdEncoding.EncodedLen(FrameBytes) + len(mediaTail)
}

// twilioMarkMaxLen bounds the length of a mark message.
func twilioMarkMaxLen(sidLen int) int {
	return len(markHead) + sidLen + len(markMid) + 20 + len(markTail) // 20: digits of a uint64
}

// appendTwilioMedia appends a media message carrying frame (raw mu-law).
func appendTwilioMedia(dst []byte, streamSID string, frame []byte) []byte {
	dst = append(dst, mediaHead...)
	dst = append(dst, streamSID...)
	dst = append(dst, mediaMid...)
	dst = base64.StdEncoding.AppendEncode(dst, frame)
	return append(dst, mediaTail...)
}

// appendTwilioMark appends a mark message named "m<seq>".
func appendTwilioMark(dst []byte, streamSID string, seq uint64) []byte {
	dst = append(dst, markHead...)
	dst = append(dst, streamSID...)
	dst = append(dst, markMid...)
	dst = strconv.AppendUint(dst, seq, 10)
	return append(dst, markTail...)
}

// appendTwilioClear appends a clear message.
func appendTwilioClear(dst []byte, streamSID string) []byte {
	dst = append(dst, `{"event":"clear","streamSid":"`...)
	dst = append(dst, streamSID...)
	return append(dst, `"}`...)
}

// markSeq parses a mark name this relay produced ("m<seq>").
func markSeq(name []byte) (uint64, bool) {
	if len(name) < 2 || name[0] != 'm' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(name[1:]), 10, 64)
	return n, err == nil
}
