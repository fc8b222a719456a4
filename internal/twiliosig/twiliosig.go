// Package twiliosig checks X-Twilio-Signature on Twilio's webhooks and
// Media Streams upgrades. It wraps twilio-go's client.RequestValidator
// (HMAC, constant-time compare and both port forms of the URL come from
// there) and adds only what twilio-go leaves to the caller: rebuilding the
// URL Twilio signed from the configured public URL and the raw request
// target, never from the Host or X-Forwarded-* headers.
package twiliosig

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Twilio signs with HMAC-SHA1
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/twilio/twilio-go/client"
)

// Validator checks signatures for one auth token and public base URL. It is
// safe for concurrent use.
type Validator struct {
	rv      client.RequestValidator
	macs    sync.Pool // keyed HMAC-SHA1 states of the fast path (fast.go)
	base    string    // scheme://host[:port][/prefix] of PUBLIC_URL
	wsHost  string    // host[:port][/prefix] of PUBLIC_URL
	wssHost string    // the same with :443 when no port is given
}

// New returns a validator, or nil when authToken or publicURL is missing
// (then nothing can be validated and every request must be refused).
func New(authToken string, publicURL *url.URL) *Validator {
	if authToken == "" || publicURL == nil || publicURL.Host == "" {
		return nil
	}
	path := strings.TrimRight(publicURL.EscapedPath(), "/")
	wss := publicURL.Host
	if publicURL.Port() == "" {
		wss += ":443"
	}
	v := &Validator{
		rv:      client.NewRequestValidator(authToken),
		base:    publicURL.Scheme + "://" + publicURL.Host + path,
		wsHost:  publicURL.Host + path,
		wssHost: wss + path,
	}
	key := []byte(authToken)
	v.macs.New = func() any { return hmac.New(sha1.New, key) }
	return v
}

// URL is the address Twilio signed for a request with this raw request
// target (r.RequestURI: path and query exactly as received).
func (v *Validator) URL(requestURI string) string { return v.base + requestURI }

// Valid reports whether signature matches a webhook request. For POST the
// raw body is covered: form parameters (sorted key+value), or, when the URL
// carries bodySHA256, the body's SHA-256. For any other method only the URL
// is signed (its query string holds the parameters).
func (v *Validator) Valid(method, requestURI string, body []byte, signature string) bool {
	if v == nil || signature == "" || !strings.HasPrefix(requestURI, "/") {
		return false
	}
	u := v.URL(requestURI)
	if method == http.MethodPost {
		return v.formSignedAsIs(u, body, signature) || v.rv.ValidateBody(u, body, signature)
	}
	return v.rv.Validate(u, map[string]string{}, signature)
}

// ValidUpgrade reports whether signature matches a Media Streams WebSocket
// upgrade (a GET): Twilio signs the wss:// URL of the <Stream>; the
// https:// form is accepted too.
func (v *Validator) ValidUpgrade(requestURI, signature string) bool {
	if v == nil || signature == "" || !strings.HasPrefix(requestURI, "/") {
		return false
	}
	// twilio-go tries the URL as given and without its port, and adds
	// :443 only for https; so the wss form is given with :443 to cover
	// both of its port forms.
	for _, u := range []string{"wss://" + v.wssHost + requestURI, "https://" + v.wsHost + requestURI} {
		if v.rv.Validate(u, map[string]string{}, signature) {
			return true
		}
	}
	return false
}
