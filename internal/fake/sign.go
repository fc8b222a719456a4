package fake

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Signature computes the X-Twilio-Signature Twilio sends for a request to
// fullURL with the given POST form params: base64(HMAC-SHA1(authToken,
// fullURL + for each key in byte order: key+value for each of its values in
// sorted, deduplicated order)). For GET requests and JSON bodies pass nil
// params: the query string is already part of fullURL.
func Signature(authToken, fullURL string, params url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vals := slices.Clone(params[k])
		slices.Sort(vals)
		vals = slices.Compact(vals)
		for _, v := range vals {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// BodySignatureURL returns fullURL with the bodySHA256=<hex sha256(body)>
// query parameter Twilio adds for JSON bodies. Sign the result with
// Signature(token, u, nil).
func BodySignatureURL(fullURL string, body []byte) string {
	sum := sha256.Sum256(body)
	sep := "?"
	if strings.Contains(fullURL, "?") {
		sep = "&"
	}
	return fullURL + sep + "bodySHA256=" + hex.EncodeToString(sum[:])
}

// BodySignature returns the URL to request (fullURL plus bodySHA256) and the
// X-Twilio-Signature for a JSON body, as Twilio computes them.
func BodySignature(authToken, fullURL string, body []byte) (signedURL, signature string) {
	signedURL = BodySignatureURL(fullURL, body)
	return signedURL, Signature(authToken, signedURL, nil)
}

// SignWebSocket returns the X-Twilio-Signature Twilio puts on a Media
// Streams WebSocket upgrade request: the URL signature of wssURL (a GET, so
// no params).
func SignWebSocket(authToken, wssURL string) string {
	return Signature(authToken, wssURL, nil)
}

// SignedRequest builds a form-encoded webhook request to baseURL+path (the
// address the test server actually listens on) whose X-Twilio-Signature is
// computed over publicURL+path, the URL the server rebuilds from its
// configured public base. For GET the params go into the query string of
// both URLs and nothing is appended to the signed string.
func SignedRequest(ctx context.Context, method, baseURL, publicURL, path, authToken string, params url.Values) (*http.Request, error) {
	base := strings.TrimRight(baseURL, "/")
	public := strings.TrimRight(publicURL, "/")
	if method == "" {
		method = http.MethodPost
	}
	if method == http.MethodGet {
		if len(params) > 0 {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			path += sep + params.Encode()
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-Twilio-Signature", Signature(authToken, public+path, nil))
		return req, nil
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(params.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", Signature(authToken, public+path, params))
	return req, nil
}
