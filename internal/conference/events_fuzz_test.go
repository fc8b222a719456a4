package conference

import (
	"net/url"
	"testing"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

func FuzzParseEvent(f *testing.F) {
	f.Add("ConferenceSid=CF0123456789abcdef0123456789abcdef&SequenceNumber=3&StatusCallbackEvent=participant-join&CallSid=CA0123456789abcdef0123456789abcdef&FriendlyName=conf_CA0123456789abcdef0123456789abcdef", "tok")
	f.Fuzz(func(t *testing.T, form, idem string) {
		v, err := url.ParseQuery(form)
		if err != nil {
			return
		}
		ev, err := ParseEvent(v, idem)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("error %v is not invalid", err)
			}
			return
		}
		if ev.Sequence < 0 || len(ev.IdempotencyKey) > 200 || len(ev.Name) > 128 {
			t.Fatalf("accepted out-of-bounds event %+v", ev)
		}
		for k, p := range ev.Params {
			if !safeParam.MatchString(p) {
				t.Fatalf("kept unsafe param %s=%q", k, p)
			}
		}
	})
}

func FuzzCallSIDOf(f *testing.F) {
	f.Add("conf_CA0123456789abcdef0123456789abcdef")
	f.Fuzz(func(t *testing.T, name string) {
		sid, err := CallSIDOf(name)
		if err == nil && (NameFor(sid) != name || !ValidCallSID(sid)) {
			t.Fatalf("CallSIDOf(%q) = %q", name, sid)
		}
	})
}
