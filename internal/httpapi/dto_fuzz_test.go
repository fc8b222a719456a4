package httpapi

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

// fuzzDecode runs one body through decodeJSON and the rules that apply
// (the validator's tags, or the contacts service's Validate), as the
// handlers and services do: it must never panic, and every refusal must be a client
// error (never internal).
func fuzzDecode(t *testing.T, s *Server, body []byte, dst any) {
	r := httptest.NewRequest("POST", "/api/x", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	err := decodeJSON(r, dst)
	if err == nil {
		switch v := dst.(type) {
		case *contactJSON:
			err = validContact(*v)
		case *[]contactJSON:
			for _, c := range *v {
				if err = validContact(c); err != nil {
					break
				}
			}
		default:
			err = s.check(dst)
		}
	}
	if err != nil {
		if c := apperr.CodeOf(err); c != apperr.Invalid && c != apperr.TooLarge {
			t.Fatalf("body %q: code %s (%v), want invalid", body, c, err)
		}
	}
}

// validContact applies the contacts service's rules, the only ones a
// contact has.
func validContact(in contactJSON) error {
	c := in.toContact()
	c.Normalize()
	return c.Validate()
}

func FuzzContactJSON(f *testing.F) {
	f.Add([]byte(`{"name":"Alice","phoneNumber":"+15555550101","aliases":["Ali"],"note":"x"}`))
	s := &Server{validate: newValidator()}
	f.Fuzz(func(t *testing.T, body []byte) {
		var one contactJSON
		fuzzDecode(t, s, body, &one)
		var list []contactJSON
		fuzzDecode(t, s, body, &list)
	})
}

func FuzzConferenceJSON(f *testing.F) {
	f.Add([]byte(`{"conferenceName":"conf_CA0123456789abcdef0123456789abcdef","targetNumber":"+15555550100"}`))
	s := &Server{validate: newValidator()}
	f.Fuzz(func(t *testing.T, body []byte) {
		var add conferenceAddRequest
		fuzzDecode(t, s, body, &add)
		var fw conferenceForwardRequest
		fuzzDecode(t, s, body, &fw)
		var end conferenceEndRequest
		fuzzDecode(t, s, body, &end)
	})
}

func FuzzWebhookJSON(f *testing.F) {
	f.Add([]byte(`{"url":"https://crm.example.com/voiceagent","events":["call.started","call.ended"]}`))
	f.Add([]byte(`{"url":"","events":[]}`))
	f.Add([]byte(`{"url":"https://a.example","events":["call.ended"],"secret":"x"}`))
	s := &Server{validate: newValidator()}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in webhookCreateRequest
		fuzzDecode(t, s, body, &in)
	})
}
