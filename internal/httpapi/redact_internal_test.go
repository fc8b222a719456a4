package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/phone"
)

// redactNumber is written in the forms below; none may reach the log.
const redactNumber = "+14155550123"

var redactPaths = []string{
	"/api/callers/allowed/+14155550123", "/api/callers/allowed/%2B14155550123", "/api/data/415-555-0123",
	"/api/data/+1%20(415)%20555-0123", "/api/x/415.555.0123",
}

// TestErrorPathsRedactNumbers: writeError (4xx at DEBUG, 5xx at ERROR with
// the cause) and the panic recoverer log paths, causes and panic values
// with every phone number masked, in any written form.
func TestErrorPathsRedactNumbers(t *testing.T) {
	s, logs := testServer(t, false)
	for _, p := range redactPaths {
		for _, err := range []error{
			apperr.New(apperr.NotFound, "no such entry"),
			errors.New("store: caller +1 (415) 555-0123 not written"),
		} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.URL.Path = p
			s.writeError(httptest.NewRecorder(), r, err)
		}
		h := s.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("lookup failed for 415 555 0123")
		}))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.Path = p
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if logs.Len() == 0 {
		t.Fatal("nothing logged")
	}
	m, _ := phone.NewMatcher(redactNumber)
	if spans := m.Find(logs.String()); len(spans) > 0 {
		sp := spans[0]
		t.Fatalf("log holds the number %d times, first: %q", len(spans), logs.String()[max(0, sp[0]-80):sp[1]])
	}
}
