package fake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"
)

// REST operations the fake Twilio server knows, as recorded in
// RESTRequest.Op and named in TwilioREST.Fail.
const (
	OpUpdateCall        = "update_call"
	OpUpdateConference  = "update_conference"
	OpCreateParticipant = "create_participant"
	OpDeleteParticipant = "delete_participant"
	OpListConferences   = "list_conferences"
	OpLookup            = "lookup_phone_number"
	OpCreateCall        = "create_call"
)

// RESTRequest is one request the fake Twilio REST server received.
type RESTRequest struct {
	Op       string // one of the Op constants, or "unknown"
	Method   string
	Host     string // api.twilio.com or lookups.twilio.com
	Path     string
	Username string     // Basic auth user (account SID or API key)
	Form     url.Values // POST form values (repeated keys kept)
	Query    url.Values
	Status   int // status answered
	Time     time.Time
}

// Conference is the fake's state for one conference.
type Conference struct {
	SID          string
	FriendlyName string
	Status       string // in-progress or completed
}

// CallerName is what the fake's Lookup answers for a number.
type CallerName struct {
	Name string // caller_name
	Type string // caller_type: CONSUMER, BUSINESS or ""
}

type restFailure struct {
	op     string
	status int
	code   int
	times  int // <= 0: until cleared
}

// TwilioREST is a fake of Twilio's REST API (api.twilio.com for calls and
// conferences, lookups.twilio.com for Lookup v2) behind an httptest server.
// twilio-go reaches it through HTTPClient, whose transport rewrites the
// scheme and host but keeps the Host header, so the fake routes per
// product. It checks Basic auth, records every request with its form
// values, keeps a little state (conferences, hung-up calls, caller names)
// and can be scripted to fail.
type TwilioREST struct {
	// Server is the underlying test server.
	Server *httptest.Server
	// AccountSID is the account in every accepted path.
	AccountSID string

	username, password string

	mu           sync.Mutex
	requests     []RESTRequest
	failures     []restFailure
	conferences  map[string]*Conference // by SID
	ended        map[string]bool        // call SIDs hung up
	names        map[string]CallerName
	changed      chan struct{} // closed and replaced on each request
	onCallUpdate func(callSID string)
	placed       []PlacedCall // calls created (Calls.json)
	hookBase     string       // where placed calls' webhooks go
	hookToken    string       // their signing token
}

// OnCallUpdate sets fn to run on every accepted call update (new TwiML or
// a hang-up) before the fake answers it, as Twilio would end the call's
// media stream then: tests stop their MediaClient for callSID in fn.
func (f *TwilioREST) OnCallUpdate(fn func(callSID string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onCallUpdate = fn
}

// NewTwilioREST starts a fake accepting Basic auth username/password (the
// account SID and auth token, or an API key and secret) for accountSID.
// Credentials must be alphanumeric (twilio-go refuses others). Call Close
// when done.
func NewTwilioREST(accountSID, username, password string) *TwilioREST {
	f := &TwilioREST{
		AccountSID:  accountSID,
		username:    username,
		password:    password,
		conferences: map[string]*Conference{},
		ended:       map[string]bool{},
		names:       map[string]CallerName{},
		changed:     make(chan struct{}),
		hookToken:   password,
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// Close stops the server.
func (f *TwilioREST) Close() { f.Server.Close() }

// HTTPClient returns a client that sends requests for *.twilio.com to the
// fake (and refuses every other host, so nothing leaves the machine). Pass
// it as app.Options.TwilioHTTPClient.
func (f *TwilioREST) HTTPClient() *http.Client {
	target, _ := url.Parse(f.Server.URL)
	return &http.Client{
		Transport: rewriteTransport{target: target, next: f.Server.Client().Transport},
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// rewriteTransport sends twilio.com requests to the fake, keeping the
// original Host so the fake can tell the products apart.
type rewriteTransport struct {
	target *url.URL
	next   http.RoundTripper
}

func (rt rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.URL.Hostname() {
	case "api.twilio.com", "lookups.twilio.com":
	default:
		return nil, fmt.Errorf("fake twilio: refusing request to %s", r.URL.Host)
	}
	c := r.Clone(r.Context())
	c.Host = r.URL.Host
	c.URL.Scheme = rt.target.Scheme
	c.URL.Host = rt.target.Host
	return rt.next.RoundTrip(c)
}

// Fail makes the next times requests of op (or every request when op is
// "") answer status with Twilio error code. times <= 0 fails until
// ClearFailures.
func (f *TwilioREST) Fail(op string, status, code, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, restFailure{op: op, status: status, code: code, times: times})
}

// ClearFailures removes every scripted failure.
func (f *TwilioREST) ClearFailures() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = nil
}

// SetCallerName makes Lookup answer name for number (E.164).
func (f *TwilioREST) SetCallerName(number string, name CallerName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[number] = name
}

// AddConference registers a live conference, as if someone had joined it.
func (f *TwilioREST) AddConference(friendlyName string) *Conference {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conferenceLocked(friendlyName)
}

// Conferences returns a copy of the fake's conferences.
func (f *TwilioREST) Conferences() []Conference {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Conference, 0, len(f.conferences))
	for _, c := range f.conferences {
		out = append(out, *c)
	}
	return out
}

// Ended reports whether the fake was told to hang up callSID.
func (f *TwilioREST) Ended(callSID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ended[callSID]
}

// Requests returns a copy of every request received, oldest first. With
// ops given, only requests of those operations.
func (f *TwilioREST) Requests(ops ...string) []RESTRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []RESTRequest
	for _, r := range f.requests {
		if len(ops) == 0 || contains(ops, r.Op) {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets recorded requests (state and failures stay).
func (f *TwilioREST) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

// WaitRequests waits until at least n requests of op (any op when "") were
// recorded, or ctx ends.
func (f *TwilioREST) WaitRequests(ctx context.Context, op string, n int) ([]RESTRequest, error) {
	for {
		f.mu.Lock()
		ch := f.changed
		f.mu.Unlock()
		var got []RESTRequest
		if op == "" {
			got = f.Requests()
		} else {
			got = f.Requests(op)
		}
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("fake twilio: %d of %d %q requests: %w", len(got), n, op, ctx.Err())
		case <-ch:
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// restError is Twilio's JSON error body, which twilio-go decodes into
// *client.TwilioRestError.
type restError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func writeRESTError(w http.ResponseWriter, status, code int, msg string) {
	writeRESTJSON(w, status, restError{Code: code, Message: msg, MoreInfo: fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), Status: status})
}

func writeRESTJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
