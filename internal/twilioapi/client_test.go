package twilioapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/twilioapi"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testAccount = "AC00000000000000000000000000000000"

// TestErrorAnswerHoldsNothing: twilio-go never closes the body of an
// error answer; the client reads and closes it, so no goroutine or
// connection waits for the call's timeout (before: one per error, for up
// to 10 s).
func TestErrorAnswerHoldsNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := fake.NewTwilioREST(testAccount, testAccount, "token123")
	defer f.Close()
	c, err := twilioapi.New(twilioapi.Credentials{AccountSID: testAccount, AuthToken: "token123"}, f.HTTPClient())
	if err != nil {
		t.Fatal(err)
	}
	f.Fail(fake.OpUpdateCall, 500, 20500, 3)
	for range 3 {
		if te, ok := twilioapi.AsError(c.HangUp(context.Background(), "CA00000000000000000000000000000001")); !ok || te.Status != 500 || te.Code != 20500 {
			t.Fatalf("scripted failure: %+v", te)
		}
	}
	f.Server.CloseClientConnections()
}

// TestCallDeadline: a REST call that gets no answer ends at the client's
// timeout, even though the timeout is applied per request by the
// transport rather than by http.Client.
func TestCallDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	target, _ := url.Parse(srv.URL)
	hc := &http.Client{Timeout: 50 * time.Millisecond, Transport: hostRewrite{target: target}}
	c, err := twilioapi.New(twilioapi.Credentials{AccountSID: testAccount, AuthToken: "token123"}, hc)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.HangUp(context.Background(), "CA00000000000000000000000000000001"); err == nil {
		t.Fatal("a call without an answer succeeded")
	}
}

// hostRewrite sends every request to target.
type hostRewrite struct{ target *url.URL }

func (h hostRewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = h.target.Scheme, h.target.Host
	return http.DefaultTransport.RoundTrip(r)
}
