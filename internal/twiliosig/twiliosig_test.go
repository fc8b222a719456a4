package twiliosig_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/twiliosig"
)

// TestVectors checks every shared vector against a validator configured
// with the vector's public base (scheme://host of the URL requested).
func TestVectors(t *testing.T) {
	f, err := fake.LoadSignatureVectors()
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 20 {
		t.Fatalf("only %d vectors", len(f.Vectors))
	}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			u, err := url.Parse(v.URL)
			if err != nil {
				t.Fatal(err)
			}
			val := twiliosig.New(f.TokenFor(v), &url.URL{Scheme: u.Scheme, Host: u.Host})
			got := val.Valid(http.MethodPost, u.RequestURI(), v.RawBody(), v.Signature)
			if got != v.Valid {
				t.Fatalf("Valid = %v, want %v", got, v.Valid)
			}
		})
	}
}

func TestPortVariantsAndPrefix(t *testing.T) {
	const tok = "12345"
	params := url.Values{"CallSid": {"CA1"}}
	body := []byte(params.Encode())
	for _, tc := range []struct {
		name, public, signed, uri string
		want                      bool
	}{
		{"signed with :443, configured without", "https://example.com", "https://example.com:443/voice/incoming", "/voice/incoming", true},
		{"signed without port, configured :443", "https://example.com:443", "https://example.com/voice/incoming", "/voice/incoming", true},
		{"custom port", "https://example.com:8443", "https://example.com:8443/voice/incoming", "/voice/incoming", true},
		{"path prefix of a proxy", "https://example.com/twilio", "https://example.com/twilio/voice/incoming", "/voice/incoming", true},
		{"another host", "https://example.com", "https://example.org/voice/incoming", "/voice/incoming", false},
		{"query string kept verbatim", "https://example.com", "https://example.com/voice/incoming?x=a%20b&y=%27q%27", "/voice/incoming?x=a%20b&y=%27q%27", true},
		{"query string changed", "https://example.com", "https://example.com/voice/incoming?x=1", "/voice/incoming?x=2", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, _ := url.Parse(tc.public)
			v := twiliosig.New(tok, pub)
			sig := fake.Signature(tok, tc.signed, params)
			if got := v.Valid(http.MethodPost, tc.uri, body, sig); got != tc.want {
				t.Fatalf("Valid = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGetAndUpgrade(t *testing.T) {
	const tok = "12345"
	pub, _ := url.Parse("https://voice.example.test")
	v := twiliosig.New(tok, pub)
	uri := "/twiml?CallSid=CA1&From=%2B15555550100"
	if !v.Valid(http.MethodGet, uri, nil, fake.Signature(tok, "https://voice.example.test"+uri, nil)) {
		t.Fatal("signed GET refused")
	}
	// A GET signature covers the URL only: params are in the query.
	if v.Valid(http.MethodGet, "/twiml?CallSid=CA2", nil, fake.Signature(tok, "https://voice.example.test"+uri, nil)) {
		t.Fatal("GET with another query accepted")
	}
	path := "/media-stream/abcdefghijklmnopqrstuvwxyz"
	for _, signed := range []string{"wss://voice.example.test" + path, "https://voice.example.test" + path, "wss://voice.example.test:443" + path} {
		if !v.ValidUpgrade(path, fake.SignWebSocket(tok, signed)) {
			t.Fatalf("upgrade signed for %s refused", signed)
		}
	}
	if v.ValidUpgrade(path, fake.SignWebSocket(tok, "ws://voice.example.test"+path)) {
		t.Fatal("ws:// signature accepted")
	}
	if v.ValidUpgrade(path+"x", fake.SignWebSocket(tok, "wss://voice.example.test"+path)) {
		t.Fatal("upgrade for another path accepted")
	}
}

func TestNotConfigured(t *testing.T) {
	pub, _ := url.Parse("https://voice.example.test")
	if twiliosig.New("", pub) != nil || twiliosig.New("tok", nil) != nil {
		t.Fatal("New without token or URL must be nil")
	}
	var v *twiliosig.Validator
	if v.Valid(http.MethodPost, "/voice/incoming", nil, "x") || v.ValidUpgrade("/x", "x") {
		t.Fatal("nil validator accepted a request")
	}
	v = twiliosig.New("tok", pub)
	if v.Valid(http.MethodPost, "/voice/incoming", nil, "") {
		t.Fatal("empty signature accepted")
	}
	// An absolute-form request target is never what Twilio signed.
	if v.Valid(http.MethodGet, "https://evil.example/x", nil, fake.Signature("tok", "https://voice.example.testhttps://evil.example/x", nil)) {
		t.Fatal("absolute request URI accepted")
	}
}
