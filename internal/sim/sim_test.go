package sim

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestParseTwiMLDecisions(t *testing.T) {
	cases := []struct {
		name, doc, want, next string
	}{
		{"reject", `<?xml version="1.0" encoding="UTF-8"?><Response><Reject/></Response>`, "reject", ""},
		{"busy", `<Response><Reject reason="busy"></Reject></Response>`, "busy", ""},
		{"not authorized", `<Response><Say>This number is not authorized.</Say><Hangup/></Response>`, "hangup", ""},
		{"gather", `<Response><Gather timeout="2" actionOnEmptyResult="true" action="/voice/accept"></Gather><Redirect>/voice/accept</Redirect></Response>`, "gather", "/voice/accept"},
		{"redirect only", `<Response><Redirect method="POST">https://voice.example.test/voice/accept</Redirect></Response>`, "gather", "https://voice.example.test/voice/accept"},
		{"stream", `<Response><Connect><Stream url="wss://voice.example.test/media-stream/tok"><Parameter name="callSid" value="CA1"/></Stream></Connect></Response>`, "stream", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := ParseTwiML([]byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Decision(); got != c.want {
				t.Fatalf("Decision = %q, want %q", got, c.want)
			}
			if got := a.Next(); got != c.next {
				t.Fatalf("Next = %q, want %q", got, c.next)
			}
		})
	}
	a, _ := ParseTwiML([]byte(cases[5].doc))
	u, p, ok := a.Stream()
	if !ok || u != "wss://voice.example.test/media-stream/tok" || p["callSid"] != "CA1" {
		t.Fatalf("Stream = %q %v %v", u, p, ok)
	}
	for _, bad := range []string{"", "<Other/>", "<Response><Say>"} {
		if _, err := ParseTwiML([]byte(bad)); err == nil {
			t.Errorf("ParseTwiML(%q) succeeded, want an error", bad)
		}
	}
}

func TestPublicPath(t *testing.T) {
	tg := Target{PublicURL: "https://voice.example.test"}
	for in, want := range map[string]string{
		"/voice/accept": "/voice/accept",
		"https://voice.example.test/voice/accept?x=1": "/voice/accept?x=1",
	} {
		got, err := tg.publicPath(in)
		if err != nil || got != want {
			t.Errorf("publicPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := tg.publicPath("https://evil.example.test/voice/accept"); err == nil {
		t.Error("a webhook address on another host was accepted")
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if s.RSS <= 0 || s.HWM < s.RSS {
		t.Fatalf("ReadProc = %+v", s)
	}
}

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
