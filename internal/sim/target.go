package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/fake"
)

// Target is how the simulator reaches a server: where requests go and the
// credentials and public address the server was configured with.
type Target struct {
	// BaseURL is where requests are sent (http://127.0.0.1:port).
	BaseURL string
	// PublicURL is the server's PUBLIC_URL, the address webhook and
	// upgrade signatures are computed over.
	PublicURL string
	// AuthToken is the server's TWILIO_AUTH_TOKEN.
	AuthToken string
	// AccountSID is the server's TWILIO_ACCOUNT_SID.
	AccountSID string
	// Bearer is a token of the server's INTERNAL_API_BEARER.
	Bearer string
	// CalledNumber is the number callers dial (TWILIO_PHONE_NUMBER).
	CalledNumber string
	// HTTP carries webhooks and API calls; nil means a default client.
	HTTP *http.Client
	// Dialer opens media streams; nil means a default dialer.
	Dialer *websocket.Dialer
	// Observe, when set, sees every response (tests search the bodies for
	// leaked secrets). kind is "webhook" or "api".
	Observe func(kind, path string, status int, body []byte)
}

func (t *Target) observe(kind, path string, status int, body []byte) {
	if t.Observe != nil {
		t.Observe(kind, path, status, body)
	}
}

// Client is the HTTP client requests to the target use.
func (t *Target) Client() *http.Client {
	if t.HTTP != nil {
		return t.HTTP
	}
	return http.DefaultClient
}

// NewHTTPClient returns a client with a connection pool sized for n
// concurrent requests to one host.
func NewHTTPClient(n int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = n + 16
	tr.MaxIdleConnsPerHost = n + 16
	tr.MaxConnsPerHost = 0
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// CallParams returns the form of an incoming-call webhook for a new call
// from one number to another, with a fresh CallSid.
func (t *Target) CallParams(from, to string) url.Values {
	p := fake.DefaultCallParams(from, to)
	if t.AccountSID != "" {
		p.Set("AccountSid", t.AccountSID)
	}
	p.Set("FromCountry", "US")
	p.Set("ToCountry", "US")
	return p
}

// Webhook posts a signed Twilio webhook to pathOrURL (a path under the
// public URL, or an absolute URL a TwiML verb named) and returns the
// status and body.
func (t *Target) Webhook(ctx context.Context, pathOrURL string, params url.Values) (int, []byte, error) {
	path, err := t.publicPath(pathOrURL)
	if err != nil {
		return 0, nil, err
	}
	req, err := fake.SignedRequest(ctx, http.MethodPost, t.BaseURL, t.PublicURL, path, t.AuthToken, params)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("I-Twilio-Idempotency-Token", newID())
	resp, err := t.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	t.observe("webhook", path, resp.StatusCode, body)
	return resp.StatusCode, body, err
}

// publicPath turns an absolute URL on the public host (as TwiML may hold)
// into its path; a path is returned as is.
func (t *Target) publicPath(pathOrURL string) (string, error) {
	if strings.HasPrefix(pathOrURL, "/") {
		return pathOrURL, nil
	}
	u, err := url.Parse(pathOrURL)
	if err != nil {
		return "", fmt.Errorf("webhook address %q: %w", pathOrURL, err)
	}
	pub, err := url.Parse(t.PublicURL)
	if err != nil {
		return "", fmt.Errorf("public URL: %w", err)
	}
	if u.Host != pub.Host {
		return "", fmt.Errorf("webhook address on host %q, want the public host %q", u.Host, pub.Host)
	}
	return u.RequestURI(), nil
}

// Status reports the end of a call as Twilio's status callback does, so
// the server's capacity count drops.
func (t *Target) Status(ctx context.Context, call url.Values, status string, seconds int) error {
	p := url.Values{}
	for _, k := range []string{"CallSid", "AccountSid", "From", "To", "Direction", "ApiVersion"} {
		p.Set(k, call.Get(k))
	}
	p.Set("CallStatus", status)
	p.Set("CallDuration", strconv.Itoa(seconds))
	p.Set("Duration", strconv.Itoa((seconds+59)/60))
	p.Set("SequenceNumber", "0")
	p.Set("Timestamp", time.Now().UTC().Format(time.RFC1123Z))
	p.Set("CallbackSource", "call-progress-events")
	code, body, err := t.Webhook(ctx, "/voice/status", p)
	if err != nil {
		return err
	}
	if code < 200 || code > 299 {
		return &fake.StatusError{StatusCode: code, Body: string(body)}
	}
	return nil
}

// DialStream opens the media stream a <Connect><Stream> named, on the
// loopback address, signed over the public wss:// URL as Twilio signs it.
func (t *Target) DialStream(ctx context.Context, streamURL string, opts fake.MediaOptions) (*fake.MediaClient, error) {
	u, err := url.Parse(streamURL)
	if err != nil {
		return nil, fmt.Errorf("stream URL: %w", err)
	}
	base, err := url.Parse(t.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("base URL: %w", err)
	}
	scheme := "ws"
	if base.Scheme == "https" {
		scheme = "wss"
	}
	opts.AuthToken = t.AuthToken
	opts.SignURL = streamURL
	if opts.Dialer == nil {
		opts.Dialer = t.Dialer
	}
	return fake.DialMedia(ctx, scheme+"://"+base.Host+u.RequestURI(), opts)
}

// API sends an authenticated operator API request with a JSON body (nil
// for none) and returns the status and body.
func (t *Target) API(ctx context.Context, method, path string, body io.Reader) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(t.BaseURL, "/")+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+t.Bearer)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	t.observe("api", path, resp.StatusCode, b)
	return resp.StatusCode, b, err
}

// WaitReady polls /ready until it answers 200 or ctx ends.
func (t *Target) WaitReady(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(t.BaseURL, "/")+"/ready", nil)
		if err != nil {
			return err
		}
		resp, err := t.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server at %s not ready: %w", t.BaseURL, ctx.Err())
		case <-tick.C:
		}
	}
}

// newID returns 16 random bytes in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// freeLoopback reserves a loopback port and returns its address.
func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// Limits are the call limits a server admits under, as /ready tells a
// token with metrics:read.
type Limits struct {
	MaxConcurrentCalls int `json:"max_concurrent_calls"`
	CallsPerMinute     int `json:"calls_per_minute"`
}

// Limits asks the server's /ready for its call limits; an error when the
// server does not say (an older version, or a token without metrics:read).
func (t *Target) Limits(ctx context.Context) (Limits, error) {
	code, body, err := t.API(ctx, http.MethodGet, "/ready", nil)
	if err != nil {
		return Limits{}, err
	}
	if code != http.StatusOK {
		return Limits{}, fmt.Errorf("/ready: HTTP %d", code)
	}
	var r struct {
		Limits *Limits `json:"limits"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return Limits{}, fmt.Errorf("/ready: %w", err)
	}
	if r.Limits == nil || r.Limits.MaxConcurrentCalls <= 0 || r.Limits.CallsPerMinute <= 0 {
		return Limits{}, errors.New("/ready does not tell the call limits")
	}
	return *r.Limits, nil
}
