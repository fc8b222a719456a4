package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Limits applied to events decoded from the transport.
const (
	maxTypeLen    = 64
	maxCallSIDLen = 64
)

// envelope is an event on the wire between instances, tagged with the
// publishing instance so it is not delivered twice where it started.
type envelope struct {
	V     int    `json:"v"`
	Src   string `json:"src"`
	Event Event  `json:"ev"`
}

const envelopeVersion = 1

// sourcePrefix is how every envelope encodeEnvelope makes for instance
// begins: the fields of envelope in order, and an instance ID (hex) needs
// no escaping.
func sourcePrefix(instance string) []byte {
	return []byte(`{"v":` + strconv.Itoa(envelopeVersion) + `,"src":` + strconv.Quote(instance) + `,`)
}

func encodeEnvelope(instance string, ev Event) ([]byte, error) {
	b, err := json.Marshal(envelope{V: envelopeVersion, Src: instance, Event: ev})
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.Type, err)
	}
	return b, nil
}

// decodeEnvelope parses and checks an envelope from another instance.
func decodeEnvelope(payload []byte) (src string, ev Event, err error) {
	var e envelope
	if err := json.Unmarshal(payload, &e); err != nil {
		return "", Event{}, fmt.Errorf("decode event envelope: %w", err)
	}
	switch {
	case e.V != envelopeVersion:
		return "", Event{}, fmt.Errorf("event envelope version %d not supported", e.V)
	case e.Src == "":
		return "", Event{}, errors.New("event envelope without source")
	case e.Event.Type == "" || len(e.Event.Type) > maxTypeLen:
		return "", Event{}, errors.New("event envelope with a missing or oversized type")
	case len(e.Event.CallSID) > maxCallSIDLen:
		return "", Event{}, errors.New("event envelope with an oversized call SID")
	}
	return e.Src, e.Event, nil
}
