package fake

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// twimlDoc is the part of a TwiML answer the fake needs. Parsing (never
// string comparison) keeps it independent of attribute order.
type twimlDoc struct {
	XMLName xml.Name `xml:"Response"`
	Connect []struct {
		Stream []struct {
			URL    string `xml:"url,attr"`
			Params []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"Parameter"`
		} `xml:"Stream"`
	} `xml:"Connect"`
}

// ErrNoStream means the TwiML answer has no <Connect><Stream>.
var ErrNoStream = errors.New("fake: TwiML has no <Connect><Stream>")

// DefaultCallParams returns the form parameters of a typical incoming-call
// webhook with a fresh CallSid.
func DefaultCallParams(from, to string) url.Values {
	return url.Values{
		"CallSid": {NewSid("CA")}, "AccountSid": {NewSid("AC")}, "From": {from}, "To": {to},
		"Caller": {from}, "Called": {to}, "CallStatus": {"ringing"}, "Direction": {"inbound"},
		"ApiVersion": {"2010-04-01"},
	}
}

// FetchTwiML posts a signed incoming-call webhook to baseURL+path (signed
// over publicURL+path) and returns the <Connect><Stream url> and its
// <Parameter>s. Nil params means DefaultCallParams("+15005550006",
// "+15005550001"). A non-2xx answer is a *StatusError.
func FetchTwiML(ctx context.Context, baseURL, publicURL, path, authToken string, params url.Values) (streamURL string, parameters map[string]string, err error) {
	if params == nil {
		params = DefaultCallParams("+15005550006", "+15005550001")
	}
	req, err := SignedRequest(ctx, http.MethodPost, baseURL, publicURL, path, authToken, params)
	if err != nil {
		return "", nil, err
	}
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", nil, &StatusError{StatusCode: resp.StatusCode, Body: string(body)}
	}
	return ParseStreamTwiML(body)
}

// ParseStreamTwiML extracts the first <Connect><Stream> URL and its
// parameters from a TwiML document.
func ParseStreamTwiML(body []byte) (streamURL string, parameters map[string]string, err error) {
	var doc twimlDoc
	if err := xml.Unmarshal(body, &doc); err != nil {
		return "", nil, fmt.Errorf("fake: parse TwiML: %w", err)
	}
	// The first <Connect><Stream> is the one Twilio would open.
	for _, c := range doc.Connect {
		if len(c.Stream) == 0 {
			continue
		}
		s := c.Stream[0]
		parameters = make(map[string]string, len(s.Params))
		for _, p := range s.Params {
			parameters[p.Name] = p.Value
		}
		return s.URL, parameters, nil
	}
	return "", nil, ErrNoStream
}
