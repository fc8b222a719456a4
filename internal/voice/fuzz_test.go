package voice_test

import (
	"context"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/phone"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// FuzzTwiML drives the policy and the stream answer with arbitrary caller
// values: every answer parses as XML, has one of the fixed shapes, and
// carries no caller value except an E.164 number; nothing but a malformed
// CallSid is refused.
func FuzzTwiML(f *testing.F) {
	f.Add("CA00000000000000000000000000000001", "+15555550100", "+15555550199", "US", "Jane Doe", "ringing")
	f.Add("CA00000000000000000000000000000002", "</Say><Dial>+19005550100</Dial>", "+15555550199", "GB", "</Say><Dial>+19005550100", "ringing")
	f.Add("CA00000000000000000000000000000003", "anonymous", "", "", "\x00\x01]]>&amp;", "")
	f.Add("CA0000000000000000000000000000000g", "+15555550100", "+15555550199", "US", "", "ringing")
	svc := newService(f, voice.Deps{}, voice.Settings{BlockedCountries: []string{"GB"}})
	ctx := context.Background()
	shapes := map[string]bool{"Gather,Redirect": true, "Reject": true, "Say,Hangup": true}
	f.Fuzz(func(t *testing.T, callSID, from, to, country, name, status string) {
		in := voice.Inbound{CallSID: callSID, From: from, To: to, FromCountry: country, CallerName: name, CallStatus: status}
		a, err := svc.Incoming(ctx, in, nil, false)
		if err != nil {
			if !voice.ValidCallSID(strings.TrimSpace(callSID)) && apperr.CodeOf(err) == apperr.Invalid {
				return
			}
			t.Fatalf("Incoming: %v", err)
		}
		if got := parse(t, a.TwiML).shape(); !shapes[got] {
			t.Fatalf("incoming shape %q", got)
		}
		c, err := svc.Connect(ctx, in, nil, false)
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		n := parse(t, c.TwiML)
		if got := n.shape(); !shapes[got] && got != "" && !strings.HasPrefix(got, "Connect(Stream(Parameter") {
			t.Fatalf("connect shape %q", got)
		}
		checkValues(t, n, strings.TrimSpace(callSID))
	})
}

// checkValues asserts every value in an answer is one the server chose:
// the CallSid, an E.164 caller, the fixed message and URLs.
func checkValues(t *testing.T, n node, callSID string) {
	t.Helper()
	for _, c := range n.Nodes {
		switch c.XMLName.Local {
		case "Parameter":
			name, value := attr(c, "name"), attr(c, "value")
			if !(name == "callSid" && value == callSID) && !(name == "caller" && phone.Valid(value)) {
				t.Fatalf("parameter %s=%q", name, value)
			}
		case "Say":
			if c.Text != voice.NotAuthorizedMessage {
				t.Fatalf("say %q", c.Text)
			}
		case "Redirect":
			if c.Text != links.Accept {
				t.Fatalf("redirect %q", c.Text)
			}
		case "Stream":
			tok := strings.TrimPrefix(attr(c, "url"), links.StreamBase)
			if strings.ContainsAny(tok, "/?#<>\"") || len(tok) != 43 {
				t.Fatalf("stream url %q", attr(c, "url"))
			}
		}
		checkValues(t, c, callSID)
	}
}

func attr(n node, name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}
