package fake

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/twilio/twilio-go/client"
)

// portVariants returns the URL as given plus the https/http default-port
// variants Twilio may have signed instead.
func portVariants(t *testing.T, raw string) []string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	def := map[string]string{"https": "443", "http": "80"}[u.Scheme]
	out := []string{raw}
	host := "://" + u.Host
	switch {
	case u.Port() == def:
		out = append(out, strings.Replace(raw, host, "://"+u.Hostname(), 1))
	case u.Port() == "":
		out = append(out, strings.Replace(raw, host, "://"+u.Host+":"+def, 1))
	}
	return out
}

func TestSignatureVectors(t *testing.T) {
	f, err := LoadSignatureVectors()
	if err != nil {
		t.Fatal(err)
	}
	for _, vec := range f.Vectors {
		t.Run(vec.Name, func(t *testing.T) {
			token := f.TokenFor(vec)
			params := vec.Form()
			if vec.Body != nil {
				params = nil
				// The signed URL must be exactly what BodySignatureURL builds
				// from the URL without the hash and the body received.
				u, err := url.Parse(vec.URL)
				if err != nil {
					t.Fatal(err)
				}
				q := u.Query()
				q.Del("bodySHA256")
				u.RawQuery = q.Encode()
				base := strings.TrimSuffix(u.String(), "?")
				gotURL, gotSig := BodySignature(token, base, []byte(*vec.Body))
				hashOK := gotURL == vec.URL
				if hashOK != vec.Valid {
					t.Fatalf("BodySignatureURL = %q, vector URL %q, want match=%v", gotURL, vec.URL, vec.Valid)
				}
				if vec.Valid && gotSig != vec.Signature {
					t.Fatalf("BodySignature sig = %q, want %q", gotSig, vec.Signature)
				}
			}

			matched := false
			for _, u := range portVariants(t, vec.URL) {
				if Signature(token, u, params) == vec.Signature {
					matched = true
				}
			}
			if vec.Body != nil && !vec.Valid {
				// Only the body changed; the URL signature still matches.
				matched = false
			}
			if matched != vec.Valid {
				t.Fatalf("signature reproduced = %v, want %v (%s)", matched, vec.Valid, vec.Note)
			}

			// twilio-go must accept what we sign, and agree on the vector.
			v := client.NewRequestValidator(token)
			ours := Signature(token, vec.URL, params)
			if !v.Validate(vec.URL, vec.Params, ours) {
				t.Fatalf("twilio-go rejects our signature %q for %s", ours, vec.URL)
			}
			var goValid bool
			if vec.Body != nil {
				goValid = v.ValidateBody(vec.URL, []byte(*vec.Body), vec.Signature)
			} else {
				goValid = v.Validate(vec.URL, vec.Params, vec.Signature)
			}
			if goValid != vec.Valid {
				t.Fatalf("twilio-go Validate(vector) = %v, want %v", goValid, vec.Valid)
			}
		})
	}
}

func TestSignatureRepeatedKeys(t *testing.T) {
	a := Signature("tok", "https://x.test/a", url.Values{"K": {"b", "a", "b"}})
	b := Signature("tok", "https://x.test/a", url.Values{"K": {"a", "b"}})
	if a != b {
		t.Fatalf("repeated values not deduped and sorted: %q != %q", a, b)
	}
	// Key order is by key alone: Reason before ReasonConferenceEnded.
	got := Signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", url.Values{
		"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
		"Caller": {"+14158675309"}, "From": {"+14158675309"},
		"ReasonConferenceEnded": {"test"}, "Reason": {"Participant"},
	})
	if want := "vOEb5UThFn24KEfnOFLQY2AE5FY="; got != want {
		t.Fatalf("Signature = %q, want %q", got, want)
	}
}

func TestSignedRequest(t *testing.T) {
	const token = "secret"
	params := url.Values{"CallSid": {"CA1"}, "From": {"+15551234567"}}
	req, err := SignedRequest(context.Background(), http.MethodPost, "http://127.0.0.1:9/", "https://voice.example.test", "/voice/incoming", token, params)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := req.URL.String(), "http://127.0.0.1:9/voice/incoming"; got != want {
		t.Fatalf("URL = %q, want %q", got, want)
	}
	body, _ := io.ReadAll(req.Body)
	form, _ := url.ParseQuery(string(body))
	v := client.NewRequestValidator(token)
	if !v.ValidateBody("https://voice.example.test/voice/incoming", body, req.Header.Get("X-Twilio-Signature")) {
		t.Fatal("twilio-go rejects SignedRequest POST")
	}
	if form.Get("CallSid") != "CA1" {
		t.Fatalf("body = %q", body)
	}

	req, err = SignedRequest(context.Background(), http.MethodGet, "http://127.0.0.1:9", "https://voice.example.test/", "/twiml", token, params)
	if err != nil {
		t.Fatal(err)
	}
	public := "https://voice.example.test" + req.URL.RequestURI()
	if !v.Validate(public, map[string]string{}, req.Header.Get("X-Twilio-Signature")) {
		t.Fatalf("twilio-go rejects SignedRequest GET for %s", public)
	}
	if got := SignWebSocket(token, "wss://voice.example.test/media-stream/abc"); !v.Validate("wss://voice.example.test/media-stream/abc", map[string]string{}, got) {
		t.Fatal("twilio-go rejects SignWebSocket")
	}
}
