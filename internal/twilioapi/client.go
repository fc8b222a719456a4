// Package twilioapi is the one place twilio-go's REST client is wrapped.
// Every Twilio REST call voiceagent makes goes through a *Client, so tests
// reach the fake Twilio server (internal/fake) by handing New an
// *http.Client whose transport rewrites the host, and so every call gets a
// context, a deadline and one error type.
package twilioapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
	lookups "github.com/twilio/twilio-go/rest/lookups/v2"
)

// DefaultTimeout bounds one REST call when the caller's context has no
// earlier deadline.
const DefaultTimeout = 10 * time.Second

// Credentials say how the client authenticates. With APIKey and APISecret
// set, they are used (least privilege, as Twilio recommends) and the auth
// token is not sent; otherwise the account SID and auth token are.
type Credentials struct {
	AccountSID string
	AuthToken  string
	APIKey     string
	APISecret  string
}

// Client wraps twilio-go's REST services. It is safe for concurrent use.
type Client struct {
	accountSID string
	username   string
	password   string
	base       *http.Client
}

// ErrNotConfigured is returned by New when the credentials cannot
// authenticate any call.
var ErrNotConfigured = errors.New("twilioapi: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET) are not set")

// New returns a client for the account. hc, when non-nil, carries every
// request (tests pass fake.TwilioREST.HTTPClient()); nil uses a client with
// DefaultTimeout that never follows redirects.
func New(creds Credentials, hc *http.Client) (*Client, error) {
	c := &Client{accountSID: creds.AccountSID, username: creds.AccountSID, password: creds.AuthToken}
	if creds.APIKey != "" && creds.APISecret != "" {
		c.username, c.password = creds.APIKey, creds.APISecret
	}
	if c.accountSID == "" || c.username == "" || c.password == "" {
		return nil, ErrNotConfigured
	}
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	c.base = hc
	return c, nil
}

// AccountSID is the account the client acts for (webhooks from other
// accounts are not ours).
func (c *Client) AccountSID() string { return c.accountSID }

// ctxTransport gives each request the caller's context (twilio-go builds
// its requests with context.Background()) and the call's deadline. The
// deadline lives here rather than in http.Client.Timeout because twilio-go
// never closes the body of an error answer: with a client timeout, each
// error would hold a goroutine and a connection until the timeout fired.
// An error answer is read (bounded) and closed here instead.
type ctxTransport struct {
	ctx     context.Context
	timeout time.Duration
	next    http.RoundTripper
}

// maxErrorBody bounds the error answer kept for twilio-go to decode.
const maxErrorBody = 64 << 10

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(t.ctx, t.timeout)
	resp, err := t.next.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		cancel()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}
	resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose ends a request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// rest returns twilio-go's low-level client bound to ctx. twilio-go has no
// context support, so each call gets its own cheap *client.Client whose
// transport carries ctx.
func (c *Client) rest(ctx context.Context) *twclient.RequestHandler {
	next := c.base.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	timeout := c.base.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	tc := &twclient.Client{
		Credentials: twclient.NewCredentials(c.username, c.password),
		HTTPClient: &http.Client{
			Transport: ctxTransport{ctx: ctx, timeout: timeout, next: next},
			Jar:       c.base.Jar,
			// Twilio answers REST calls directly; a redirect is never
			// followed (credentials must not travel elsewhere).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	tc.SetAccountSid(c.accountSID)
	rh := twclient.NewRequestHandler(tc)
	// Hosts come from configuration only: TWILIO_EDGE/TWILIO_REGION in the
	// process environment must not silently redirect calls.
	rh.Edge, rh.Region = "", ""
	return rh
}

// API returns the Voice REST service (api.twilio.com/2010-04-01) bound to
// ctx. Prefer the typed methods of Client; this is for siblings in this
// package.
func (c *Client) API(ctx context.Context) *api.ApiService {
	return api.NewApiService(c.rest(ctx))
}

// Lookups returns the Lookup v2 service (lookups.twilio.com) bound to ctx.
func (c *Client) Lookups(ctx context.Context) *lookups.ApiService {
	return lookups.NewApiService(c.rest(ctx))
}

// Error is a failed REST call: what was attempted and what Twilio said.
// It is meant for logs; services answer clients with a generic message.
type Error struct {
	Op      string // e.g. "update call"
	Status  int    // HTTP status from Twilio (0: no answer)
	Code    int    // Twilio error code (0: none)
	Message string // Twilio's message
	Err     error  // the underlying error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("twilio %s: status %d code %d: %s", e.Op, e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("twilio %s: %v", e.Op, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// NotFound reports whether Twilio said the resource does not exist.
func (e *Error) NotFound() bool { return e.Status == http.StatusNotFound || e.Code == 20404 }

// Retryable reports whether the call may succeed if tried again (rate
// limit, server error or no answer).
func (e *Error) Retryable() bool {
	return e.Status == 0 || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// wrap turns a twilio-go error into *Error.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Err: err}
	var re *twclient.TwilioRestError
	var v1 *twclient.RestErrorV1
	switch {
	case errors.As(err, &re):
		e.Status, e.Code, e.Message = re.Status, re.Code, re.Message
	case errors.As(err, &v1):
		e.Status, e.Code, e.Message = v1.HttpStatusCode, v1.Code, v1.Message
	}
	return e
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
