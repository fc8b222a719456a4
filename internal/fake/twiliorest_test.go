package fake_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	lookups "github.com/twilio/twilio-go/rest/lookups/v2"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/twilioapi"
)

const (
	restAccount = "AC00000000000000000000000000000001"
	restToken   = "token0123456789"
	restCaller  = "CA0123456789abcdef0123456789abcdef"
)

func newREST(t *testing.T) (*fake.TwilioREST, *twilioapi.Client) {
	t.Helper()
	f := fake.NewTwilioREST(restAccount, restAccount, restToken)
	t.Cleanup(f.Close)
	c, err := twilioapi.New(twilioapi.Credentials{AccountSID: restAccount, AuthToken: restToken}, f.HTTPClient())
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func TestTwilioRESTRecordsConferenceFlow(t *testing.T) {
	f, c := newREST(t)
	ctx := context.Background()
	if err := c.UpdateCallTwiML(ctx, restCaller, `<Response><Dial><Conference>conf_`+restCaller+`</Conference></Dial></Response>`); err != nil {
		t.Fatalf("update call: %v", err)
	}
	part, cf, err := c.AddParticipant(ctx, "conf_"+restCaller, "+15005550006", "+15555550100", "https://voice.example.test/conference/events")
	if err != nil {
		t.Fatalf("add participant: %v", err)
	}
	if len(part) != 34 || len(cf) != 34 {
		t.Fatalf("participant %q conference %q: want SIDs", part, cf)
	}
	live, err := c.FindLiveConference(ctx, "conf_"+restCaller)
	if err != nil || live != cf {
		t.Fatalf("FindLiveConference = %q, %v; want %q", live, err, cf)
	}
	if err := c.EndConference(ctx, cf); err != nil {
		t.Fatalf("end conference: %v", err)
	}
	if err := c.HangUp(ctx, restCaller); err != nil {
		t.Fatalf("hang up: %v", err)
	}
	if !f.Ended(restCaller) {
		t.Fatal("call not hung up")
	}

	reqs := f.Requests()
	ops := []string{fake.OpUpdateCall, fake.OpCreateParticipant, fake.OpListConferences, fake.OpUpdateConference, fake.OpUpdateCall}
	if len(reqs) != len(ops) {
		t.Fatalf("got %d requests, want %d", len(reqs), len(ops))
	}
	for i, op := range ops {
		if reqs[i].Op != op || reqs[i].Status >= 300 || reqs[i].Username != restAccount {
			t.Fatalf("request %d = %s %d user %s, want %s 2xx", i, reqs[i].Op, reqs[i].Status, reqs[i].Username, op)
		}
	}
	add := reqs[1].Form
	if add.Get("From") != "+15005550006" || add.Get("To") != "+15555550100" {
		t.Fatalf("participant form From=%q To=%q", add.Get("From"), add.Get("To"))
	}
	if got := add["ConferenceStatusCallbackEvent"]; len(got) != len(twilioapi.ConferenceEvents) {
		t.Fatalf("ConferenceStatusCallbackEvent = %v", got)
	}
	if got := reqs[3].Form.Get("Status"); got != "completed" {
		t.Fatalf("update conference Status = %q", got)
	}
	if got := reqs[2].Query.Get("FriendlyName"); got != "conf_"+restCaller {
		t.Fatalf("list FriendlyName = %q", got)
	}
}

func TestTwilioRESTFailuresAndAuth(t *testing.T) {
	f, c := newREST(t)
	ctx := context.Background()
	f.Fail(fake.OpUpdateCall, 500, 20500, 1)
	err := c.HangUp(ctx, restCaller)
	te := twilioErr(err)
	if te == nil || te.Status != 500 || te.Code != 20500 || !te.Retryable() {
		t.Fatalf("scripted failure: err = %v", err)
	}
	if err := c.HangUp(ctx, restCaller); err != nil {
		t.Fatalf("failure should be used up: %v", err)
	}
	f.Fail("", 429, 20429, 0)
	if _, _, err := c.AddParticipant(ctx, "conf_x", "+15005550006", "+15555550100", ""); err == nil {
		t.Fatal("want 429")
	}
	f.ClearFailures()
	if err := c.EndConference(ctx, "CF00000000000000000000000000000000"); err == nil {
		t.Fatal("unknown conference: want error")
	} else if te := twilioErr(err); te == nil || !te.NotFound() {
		t.Fatalf("unknown conference: err = %v, want not found", err)
	}

	bad, err := twilioapi.New(twilioapi.Credentials{AccountSID: restAccount, AuthToken: "wrong0"}, f.HTTPClient())
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.HangUp(ctx, restCaller); err == nil {
		t.Fatal("wrong token: want error")
	} else if te := twilioErr(err); te == nil || te.Status != 401 {
		t.Fatalf("wrong token: err = %v", err)
	}
}

func TestTwilioRESTAPIKeyAndContext(t *testing.T) {
	const key, secret = "SK00000000000000000000000000000001", "secret0123"
	f := fake.NewTwilioREST(restAccount, key, secret)
	defer f.Close()
	c, err := twilioapi.New(twilioapi.Credentials{AccountSID: restAccount, AuthToken: restToken, APIKey: key, APISecret: secret}, f.HTTPClient())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.HangUp(context.Background(), restCaller); err != nil {
		t.Fatalf("api key auth: %v", err)
	}
	if got := f.Requests()[0].Username; got != key {
		t.Fatalf("Basic user = %q, want the API key", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.HangUp(ctx, restCaller); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: err = %v", err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if _, err := f.WaitRequests(wctx, fake.OpUpdateCall, 1); err != nil {
		t.Fatal(err)
	}
}

func TestTwilioRESTLookupAndForeignHost(t *testing.T) {
	f, c := newREST(t)
	f.SetCallerName("+15555550100", fake.CallerName{Name: "EXAMPLE CO", Type: "BUSINESS"})
	res, err := c.Lookups(context.Background()).FetchPhoneNumber("+15555550100", (&lookups.FetchPhoneNumberParams{}).SetFields("caller_name"))
	if err != nil {
		t.Fatalf("lookup: %v", err)
	}
	if res.CallerName.CallerName != "EXAMPLE CO" || res.CallerName.CallerType != "BUSINESS" {
		t.Fatalf("caller name = %+v", res.CallerName)
	}
	req := f.Requests(fake.OpLookup)
	if len(req) != 1 || req[0].Query.Get("Fields") != "caller_name" || req[0].Host != "lookups.twilio.com" {
		t.Fatalf("lookup request = %+v", req)
	}
	resp, err := f.HTTPClient().Get("https://example.com/")
	if err == nil {
		resp.Body.Close()
		t.Fatal("foreign host must be refused")
	}
}

// twilioErr returns the *twilioapi.Error in err's chain, or nil.
func twilioErr(err error) *twilioapi.Error {
	var e *twilioapi.Error
	errors.As(err, &e)
	return e
}

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
