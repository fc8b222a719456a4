package sim

import "testing"

// FuzzParseTwiML: the simulator's TwiML reader never panics, and what it
// accepts answers every question consistently.
func FuzzParseTwiML(f *testing.F) {
	f.Add([]byte(`<Response><Reject reason="busy"/></Response>`))
	f.Add([]byte(`<Response><Gather action="/voice/accept" timeout="2"/><Redirect>/voice/accept</Redirect></Response>`))
	f.Add([]byte(`<Response><Connect><Stream url="wss://h/media-stream/t"><Parameter name="a" value="b"/></Stream></Connect></Response>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := ParseTwiML(body)
		if err != nil {
			return
		}
		d := a.Decision()
		u, _, ok := a.Stream()
		if ok != (d == "stream") && d != "reject" && d != "busy" {
			t.Fatalf("Stream() = %v but Decision() = %q", ok, d)
		}
		_ = u
		_ = a.Next()
	})
}
