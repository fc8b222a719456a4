package twiliosig_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/twiliosig"
)

// FuzzValid feeds arbitrary request targets, bodies and signatures to the
// validator: it must never panic, must refuse any signature it did not
// compute, and must accept a body it signed itself when every key appears
// once (twilio-go keeps the first value of a repeated key, see SECURITY.md).
func FuzzValid(f *testing.F) {
	f.Add("/voice/incoming", "CallSid=CA1&From=%2B15555550100", "garbage")
	f.Add("/voice/incoming?tenant=a", "CallerName=%3C%2FSay%3E%3CDial%3E%2B19005550100", "")
	f.Add("/conference/events?bodySHA256=00", `{"a":1}`, "AAAA")
	f.Add("/x", "a=%zz&b", "=")
	const tok = "f2a1c0ffee5eed0000000000000000aa"
	pub, _ := url.Parse("https://voice.example.test")
	v := twiliosig.New(tok, pub)
	f.Fuzz(func(t *testing.T, uri, body, sig string) {
		b := []byte(body)
		if v.Valid(http.MethodPost, uri, b, sig) && sig != "" {
			// Only a forged HMAC could pass; check it is the real one.
			form, _ := url.ParseQuery(body)
			if !strings.Contains(uri, "bodySHA256=") && sig != fake.Signature(tok, v.URL(uri), firstValues(form)) {
				t.Fatalf("accepted a signature it did not compute: %q %q %q", uri, body, sig)
			}
		}
		v.Valid(http.MethodGet, uri, b, sig)
		v.ValidUpgrade(uri, sig)
		if !strings.HasPrefix(uri, "/") || strings.Contains(uri, "bodySHA256") {
			return
		}
		// net/http answers 400 itself for a target it cannot parse, and a
		// URL that twilio-go cannot parse back (a raw '#' then a bad
		// escape: no URL Twilio signs looks like that) is refused, which
		// is the safe answer.
		if _, err := url.ParseRequestURI(uri); err != nil {
			return
		}
		if _, err := url.Parse(v.URL(uri)); err != nil {
			return
		}
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		for _, vals := range form {
			if len(vals) != 1 {
				return
			}
		}
		good := fake.Signature(tok, v.URL(uri), form)
		if !v.Valid(http.MethodPost, uri, b, good) {
			t.Fatalf("refused its own signature: %q %q", uri, body)
		}
	})
}

func firstValues(form url.Values) url.Values {
	out := url.Values{}
	for k, v := range form {
		out.Set(k, v[0])
	}
	return out
}
