package voice

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

// twimlShape parses doc strictly and returns every element name in
// document order and every Parameter's name and value.
func twimlShape(t *testing.T, doc string) (names []string, params map[string]string) {
	t.Helper()
	params = map[string]string{}
	dec := xml.NewDecoder(strings.NewReader(doc))
	var inParam bool
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return names, params
		}
		if err != nil {
			t.Fatalf("generated TwiML does not parse: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			names = append(names, tok.Name.Local)
			if tok.Name.Local == "Parameter" {
				inParam = true
				var n, v string
				for _, a := range tok.Attr {
					switch a.Name.Local {
					case "name":
						n = a.Value
					case "value":
						v = a.Value
					}
				}
				params[n] = v
			}
		case xml.EndElement:
			inParam = false
		case xml.CharData:
			if inParam && len(bytes.TrimSpace(tok)) > 0 {
				t.Fatalf("text inside <Parameter>: %q\n%s", tok, doc)
			}
		}
	}
}

// sameText compares attribute values the way an XML parser normalises
// them (line ends to \n, whitespace characters as spaces).
func sameText(a, b string) bool {
	lines := strings.NewReplacer("\r\n", "\n", "\r", "\n")
	space := strings.NewReplacer("\t", " ", "\n", " ")
	return space.Replace(lines.Replace(a)) == space.Replace(lines.Replace(b))
}

// FuzzStreamTwiML: hostile caller values (a caller name or number such as
// `"/><Dial>+1900...`) never change the structure of the stream answer,
// and come back unchanged (less what XML cannot hold) when parsed.
func FuzzStreamTwiML(f *testing.F) {
	f.Add("CA0123456789abcdef0123456789abcdef", "+15555550111")
	f.Add(`CA"/><Dial>+19005550100</Dial><Parameter name="x`, `</Say><Dial>+19005550100</Dial>`)
	f.Add("CA\x00\x1b]]>", "\xff\xfe<!--")
	f.Add("", "&amp;&#x0;&lt;")
	f.Fuzz(func(t *testing.T, callSID, caller string) {
		const base = "wss://voice.example.test/media-stream/"
		doc, err := StreamTwiML(base, "tok_0123456789abcdef", callSID, caller)
		if err != nil {
			t.Fatalf("StreamTwiML: %v", err)
		}
		names, params := twimlShape(t, doc)
		want := []string{"Response", "Connect", "Stream", "Parameter"}
		if caller != "" {
			want = append(want, "Parameter")
		}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Fatalf("elements %v, want %v\n%s", names, want, doc)
		}
		if got := params["callSid"]; !sameText(got, xmlSafe(callSID)) {
			t.Fatalf("callSid parameter %q, want %q", got, xmlSafe(callSID))
		}
		if caller != "" && !sameText(params["caller"], xmlSafe(caller)) {
			t.Fatalf("caller parameter %q, want %q", params["caller"], xmlSafe(caller))
		}
	})
}

// FuzzDecisionTwiML: every decision renders a fixed structure whatever
// the reason and links hold.
func FuzzDecisionTwiML(f *testing.F) {
	f.Add("reject", "deny_list", "https://voice.example.test/voice/accept")
	f.Add("accept", "</Say>", `https://x/"><Dial>`)
	f.Fuzz(func(t *testing.T, decision, reason, accept string) {
		doc, err := DecisionTwiML(Decision(decision), reason, Links{Accept: xmlSafe(accept)})
		if err != nil {
			return // unknown decision
		}
		names, _ := twimlShape(t, doc)
		allowed := map[string]bool{"Response": true, "Gather": true, "Redirect": true, "Say": true, "Hangup": true, "Reject": true}
		for _, n := range names {
			if !allowed[n] {
				t.Fatalf("unexpected <%s> in\n%s", n, doc)
			}
		}
	})
}
