package conference

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

// elementNames parses doc strictly and lists its elements in order.
func elementNames(t *testing.T, doc string) []string {
	t.Helper()
	var names []string
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatalf("generated TwiML does not parse: %v\n%s", err, doc)
		}
		if se, ok := tok.(xml.StartElement); ok {
			names = append(names, se.Name.Local)
		}
	}
}

// FuzzConferenceTwiML: conference names, forward targets and spoken
// messages (which may come from a caller or the model) never add verbs to
// the TwiML sent to Twilio.
func FuzzConferenceTwiML(f *testing.F) {
	f.Add("conf_CA0123456789abcdef0123456789abcdef", "+14155550142", "Goodbye.")
	f.Add(`conf_</Conference><Dial>+19005550100`, `+1900"/><Play>x</Play>`, `</Say><Dial>+19005550100</Dial><Say>`)
	f.Add("\x00\xff", "]]>", "<!-- -->")
	f.Fuzz(func(t *testing.T, name, target, message string) {
		checks := []struct {
			what string
			doc  func() (string, error)
			want string
		}{
			{"join", func() (string, error) { return joinTwiML(name, "https://voice.example.test/conference/events") }, "Response,Dial,Conference"},
			{"forward", func() (string, error) { return forwardTwiML(target, "+15555550101") }, "Response,Dial"},
			{"say and hang up", func() (string, error) { return sayHangupTwiML(message) }, ""},
		}
		for _, c := range checks {
			doc, err := c.doc()
			if err != nil {
				if apperr.CodeOf(err) == apperr.Invalid {
					continue // too long for an inline update
				}
				if strings.Contains(err.Error(), "render twiml") {
					continue // the twiml package refused the value
				}
				t.Fatalf("%s: %v", c.what, err)
			}
			got := strings.Join(elementNames(t, doc), ",")
			want := c.want
			if c.what == "say and hang up" {
				want = "Response,Hangup"
				if strings.TrimSpace(message) != "" {
					want = "Response,Say,Hangup"
				}
			}
			if got != want {
				t.Fatalf("%s: elements %s, want %s\n%s", c.what, got, want, doc)
			}
		}
	})
}
