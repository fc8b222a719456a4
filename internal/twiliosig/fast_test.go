package twiliosig_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/twilio/twilio-go/client"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/twiliosig"
)

// TestPostAnswersAsTwilioGo holds the POST fast path to twilio-go's
// ValidateBody: for bodies, URLs and signatures made for every port form
// of the URL (and for other URLs and bodies), Valid answers exactly what
// ValidateBody answers for the URL Valid rebuilds.
func TestPostAnswersAsTwilioGo(t *testing.T) {
	const tok = "f2a1c0ffee5eed0000000000000000aa"
	rv := client.NewRequestValidator(tok)
	bodies := []string{
		"",
		"CallSid=CA1&From=%2B15555550100&To=%2B15555550199",
		"From=%2B15555550100&CallSid=CA1&CallSid=CA2",
		"a=%zz",
		"CallerName=%3C%2FSay%3E&x=",
	}
	for _, base := range []string{"https://voice.example.test", "https://voice.example.test:8443", "http://voice.example.test/prefix"} {
		pub, _ := url.Parse(base)
		v := twiliosig.New(tok, pub)
		for _, uri := range []string{"/voice/incoming", "/voice/incoming?tenant=a", "/voice/incoming?bodySHA256=00"} {
			for _, body := range bodies {
				form, _ := url.ParseQuery(body)
				p, _ := url.Parse(v.URL(uri))
				withPort, noPort := *p, *p
				withPort.Host = p.Hostname() + ":443"
				noPort.Host = p.Hostname()
				sigs := []string{"", "garbage", fake.Signature(tok, v.URL(uri), firstValues(form)),
					fake.Signature(tok, withPort.String(), firstValues(form)), fake.Signature(tok, noPort.String(), firstValues(form)),
					fake.Signature(tok, v.URL(uri)+"x", firstValues(form))}
				for _, sig := range sigs {
					got := v.Valid(http.MethodPost, uri, []byte(body), sig)
					want := sig != "" && rv.ValidateBody(v.URL(uri), []byte(body), sig)
					if got != want {
						t.Fatalf("Valid(%s%s, %q, %q) = %v, twilio-go says %v", base, uri, body, sig, got, want)
					}
				}
			}
		}
	}
}

func BenchmarkValidPost(b *testing.B) {
	const tok = "f2a1c0ffee5eed0000000000000000aa"
	pub, _ := url.Parse("https://voice.example.test")
	v := twiliosig.New(tok, pub)
	body := []byte("AccountSid=AC0&CallSid=CA0123456789abcdef0123456789abcdef&CallStatus=ringing&Direction=inbound&From=%2B15555550100&To=%2B15555550199")
	form, _ := url.ParseQuery(string(body))
	sig := fake.Signature(tok, v.URL("/voice/incoming"), form)
	b.ReportAllocs()
	for b.Loop() {
		if !v.Valid(http.MethodPost, "/voice/incoming", body, sig) {
			b.Fatal("refused")
		}
	}
}
