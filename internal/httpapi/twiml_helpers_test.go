package httpapi_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
)

// xmlNode is a parsed TwiML element: name, attributes, text, children.
// Tests compare these, never the XML text (attribute order is random).
type xmlNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []xmlNode  `xml:",any"`
}

func (n xmlNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// shape renders the element names as a compact tree ("Gather,Redirect"),
// to assert the structure of an answer.
func (n xmlNode) shape() string {
	s := ""
	for i, c := range n.Nodes {
		if i > 0 {
			s += ","
		}
		s += c.XMLName.Local
		if len(c.Nodes) > 0 {
			s += "(" + c.shape() + ")"
		}
	}
	return s
}

// parseResponse parses a TwiML document and checks its root.
func parseResponse(t testing.TB, body []byte) xmlNode {
	t.Helper()
	var n xmlNode
	if err := xml.Unmarshal(body, &n); err != nil {
		t.Fatalf("TwiML %q does not parse: %v", body, err)
	}
	if n.XMLName.Local != "Response" {
		t.Fatalf("TwiML root = %q, want Response (%s)", n.XMLName.Local, body)
	}
	return n
}

// incomingParams is a realistic incoming-call webhook form.
func incomingParams(n int, from string) url.Values {
	return url.Values{
		"AccountSid":  {apptest.AccountSID},
		"ApiVersion":  {"2010-04-01"},
		"CallSid":     {fmt.Sprintf("CA%032x", n)},
		"CallStatus":  {"ringing"},
		"Direction":   {"inbound"},
		"From":        {from},
		"To":          {"+15555550199"},
		"FromCountry": {"US"},
		"Caller":      {from},
	}
}

// postTwilio sends a correctly signed webhook and returns status and body.
func postTwilio(t testing.TB, srv *apptest.Server, path string, params url.Values, header http.Header) (int, []byte) {
	t.Helper()
	req, err := fake.SignedRequest(context.Background(), http.MethodPost, srv.URL, apptest.PublicURL, path, apptest.AuthToken, params)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return send(t, req)
}

func send(t testing.TB, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
