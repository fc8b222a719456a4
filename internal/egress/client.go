package egress

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxResponse is the largest answer body accepted (64 KiB).
const MaxResponse = 64 << 10

// Header names of a signed delivery.
const (
	HeaderSignature = "X-Voiceagent-Signature"
	HeaderDelivery  = "X-Voiceagent-Delivery"
	HeaderEvent     = "X-Voiceagent-Event"
)

// Options configure a Client.
type Options struct {
	// Allowed are ranges reachable despite the refused list
	// (TOOL_ALLOWED_NETWORKS).
	Allowed []netip.Prefix
	// Version goes into User-Agent: voiceagent/<Version>.
	Version string
	// Lookup resolves a host name to addresses. Nil: the system resolver
	// (through net.Dialer). Tests set it to make a name resolve to any
	// address; the Control check still runs on every address it returns.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// Now is the clock for the signature's t (nil: time.Now).
	Now func() time.Time
}

// Client sends signed POSTs. It is safe for concurrent use.
type Client struct {
	http    *http.Client
	dialer  *net.Dialer
	allowed []netip.Prefix
	ua      string
	lookup  func(ctx context.Context, host string) ([]netip.Addr, error)
	now     func() time.Time
}

// New returns a client. The transport never uses a proxy from the
// environment (a proxy would connect on our behalf, past the guard).
func New(o Options) *Client {
	c := &Client{allowed: append([]netip.Prefix(nil), o.Allowed...), lookup: o.Lookup, now: o.Now}
	if c.now == nil {
		c.now = time.Now
	}
	v := o.Version
	if v == "" {
		v = "dev"
	}
	c.ua = "voiceagent/" + v
	c.dialer = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: c.control}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            c.dial,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    10 * time.Second,
		MaxResponseHeaderBytes: 16 << 10,
		MaxIdleConns:           32,
		IdleConnTimeout:        60 * time.Second,
	}
	c.http = &http.Client{
		Transport: tr,
		// Redirects are never followed: the 3xx itself is the answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// control runs on the resolved address just before connect(2).
func (c *Client) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Reason: "unparsable address"}
	}
	if why := Refused(ap.Addr(), c.allowed); why != "" {
		return &RefusedError{Addr: ap.Addr().WithZone(""), Reason: why}
	}
	return nil
}

// dial connects through the guarded dialer. With a Lookup hook, each
// address it returns is dialled in turn (each checked by control).
func (c *Client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if c.lookup == nil {
		return c.dialer.DialContext(ctx, network, addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return c.dialer.DialContext(ctx, network, addr)
	}
	ips, err := c.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("egress: %s has no address", host)
	}
	var first error
	for _, ip := range ips {
		conn, err := c.dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// Outcome classifies a delivery for logs, audit rows and metrics.
type Outcome string

// Outcomes. Only OK carries an answer.
const (
	OK       Outcome = "ok"
	Refusal  Outcome = "refused"   // the guard refused the address
	Timeout  Outcome = "timeout"   // no complete answer in time
	Redirect Outcome = "redirect"  // a 3xx (never followed)
	Status   Outcome = "status"    // another non-2xx status
	TooLarge Outcome = "too_large" // the answer exceeds MaxResponse
	NotJSON  Outcome = "not_json"  // the answer is not a JSON document
	Failed   Outcome = "error"     // any other failure (connection, TLS, bad URL)
)

// Request is one signed POST.
type Request struct {
	URL        string
	Body       []byte // the raw JSON body; signed as sent
	Secret     []byte // HMAC key
	DeliveryID string // X-Voiceagent-Delivery (NewDeliveryID)
	Timeout    time.Duration
	// Event, when set, is sent as X-Voiceagent-Event (webhooks).
	Event string
	// AnyBody makes every 2xx OK whatever its body (webhooks: the answer
	// is not read beyond MaxResponse and never kept).
	AnyBody bool
}

// Result is what came back. Body is set only for OK.
type Result struct {
	Outcome  Outcome
	Status   int // HTTP status, 0 when none arrived
	Body     []byte
	Duration time.Duration
	// Reason explains a failure for the log (never the answer body).
	Reason string
}

// Post sends r and classifies the answer: a 2xx with a JSON body of at
// most MaxResponse is OK; anything else is a failure with its reason.
func (c *Client) Post(ctx context.Context, r Request) Result {
	start := time.Now()
	res := c.post(ctx, r)
	res.Duration = time.Since(start)
	return res
}

func (c *Client) post(ctx context.Context, r Request) Result {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return Result{Outcome: Failed, Reason: "URL must be http(s)://host/... without credentials"}
	}
	if r.Timeout <= 0 {
		r.Timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(r.Body))
	if err != nil {
		return Result{Outcome: Failed, Reason: "build request: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set(HeaderDelivery, r.DeliveryID)
	if r.Event != "" {
		req.Header.Set(HeaderEvent, r.Event)
	}
	req.Header.Set(HeaderSignature, Sign(r.Secret, c.now(), r.Body))
	resp, err := c.http.Do(req)
	if err != nil {
		// The reason is logged, kept in the webhook delivery log and
		// published live: name the URL by scheme and host only, since a
		// business may keep an API key in its query or, as chat and CRM
		// webhooks do, in its path.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
		}
		return classify(err)
	}
	defer resp.Body.Close()
	res := Result{Status: resp.StatusCode}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		res.Outcome, res.Reason = Redirect, "answered "+strconv.Itoa(resp.StatusCode)+" (redirects are never followed)"
		return res
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		res.Outcome, res.Reason = Status, "answered "+strconv.Itoa(resp.StatusCode)
		return res
	}
	if r.AnyBody {
		// Drain a little so the connection can be reused; the answer
		// itself means nothing here.
		io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponse)) //nolint:errcheck // only for reuse
		res.Outcome = OK
		return res
	}
	if resp.ContentLength > MaxResponse {
		res.Outcome, res.Reason = TooLarge, "answer of "+strconv.FormatInt(resp.ContentLength, 10)+" bytes"
		return res
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		r := classify(err)
		r.Status = resp.StatusCode
		return r
	}
	if len(body) > MaxResponse {
		res.Outcome, res.Reason = TooLarge, "answer over "+strconv.Itoa(MaxResponse)+" bytes"
		return res
	}
	if !json.Valid(body) {
		res.Outcome, res.Reason = NotJSON, "answer is not a JSON document"
		return res
	}
	res.Outcome, res.Body = OK, body
	return res
}

// classify turns a transport error into an outcome.
func classify(err error) Result {
	var re *RefusedError
	if errors.As(err, &re) {
		return Result{Outcome: Refusal, Reason: re.Error()}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return Result{Outcome: Timeout, Reason: "no answer in time"}
	}
	return Result{Outcome: Failed, Reason: err.Error()}
}

// Sign returns the X-Voiceagent-Signature value for body at time t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// NewDeliveryID returns a unique delivery id ("dlv_" + 32 hex digits).
func NewDeliveryID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("egress: crypto/rand failed: " + err.Error())
	}
	return "dlv_" + hex.EncodeToString(b)
}

// CheckURL refuses a URL that could never be sent: not http(s), no host,
// credentials in it, or a literal IP address in a refused range (a name
// is checked later, at connect time). allowHTTP permits http:// (APP_ENV
// development). The message is fit for a 400 answer.
func CheckURL(raw string, allowHTTP bool, allowed []netip.Prefix) error {
	if len(raw) > MaxURLLen {
		return fmt.Errorf("url must be at most %d characters", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("url is not a valid URL")
	}
	switch {
	case u.Scheme == "http" && !allowHTTP:
		return errors.New("url must be https (http only when APP_ENV is development)")
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("url must be https")
	case u.Host == "" || u.Opaque != "":
		return errors.New("url must name a host")
	case u.User != nil:
		return errors.New("url must not hold credentials")
	case u.Fragment != "":
		return errors.New("url must not have a fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("url's port must be between 1 and 65535")
		}
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if why := Refused(a, allowed); why != "" {
			return fmt.Errorf("url's address is in a refused range (%s); allow it with TOOL_ALLOWED_NETWORKS if it is yours", why)
		}
		return nil
	}
	return checkHostName(host)
}

// MaxURLLen bounds a tool URL.
const MaxURLLen = 2048

// checkHostName refuses a host that is not a plain DNS name. Two forms
// would slip past the literal-address check above and reach a refused
// address under another spelling: numeric hosts other than a dotted quad
// (2130706433, 0x7f000001, 0177.0.0.1, 127.1, "127.0.0.1."), which URL
// parsers (WHATWG, curl) and inet_aton read as IPv4 addresses; and
// non-ASCII names, which IDNA mapping can turn into digits and dots
// (full-width "１２７.０.０.１" becomes 127.0.0.1). The connect-time guard
// refuses those addresses anyway; this answers 400 at creation instead.
func checkHostName(host string) error {
	name := strings.TrimSuffix(host, ".")
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return errors.New("url's host must be a DNS name or an IP address")
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return errors.New("url's host must be a DNS name in ASCII (write an international name in its xn-- form) or an IP address")
			}
		}
	}
	// No top-level domain is numeric: a last label of digits (or 0x and
	// hex digits) makes the whole host an IPv4 address in some reader's
	// eyes.
	last := strings.ToLower(labels[len(labels)-1])
	if strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") && strings.Trim(last[2:], "0123456789abcdef") == "" {
		return errors.New("url's host is a numeric address in an unusual form; write an IPv4 address as a.b.c.d, without a trailing dot")
	}
	return nil
}
