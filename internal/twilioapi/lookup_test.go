package twilioapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/twilioapi"
)

func TestLookupCallerName(t *testing.T) {
	const acct = "AC00000000000000000000000000000000"
	f := fake.NewTwilioREST(acct, acct, "token123")
	defer f.Close()
	c, err := twilioapi.New(twilioapi.Credentials{AccountSID: acct, AuthToken: "token123"}, f.HTTPClient())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f.SetCallerName("+15555550100", fake.CallerName{Name: "EXAMPLE CO", Type: "BUSINESS"})

	name, typ, err := c.LookupCallerName(ctx, "+15555550100")
	if err != nil || name != "EXAMPLE CO" || typ != "BUSINESS" {
		t.Fatalf("known = %q %q %v", name, typ, err)
	}
	// No CNAM record: caller_name is null, so both are empty.
	name, typ, err = c.LookupCallerName(ctx, "+15555550101")
	if err != nil || name != "" || typ != "" {
		t.Fatalf("unknown = %q %q %v", name, typ, err)
	}
	reqs := f.Requests(fake.OpLookup)
	if len(reqs) != 2 || reqs[0].Query.Get("Fields") != "caller_name" || reqs[0].Host != "lookups.twilio.com" {
		t.Fatalf("requests = %+v", reqs)
	}

	f.Fail(fake.OpLookup, http.StatusInternalServerError, 20500, 1)
	_, _, err = c.LookupCallerName(ctx, "+15555550100")
	if e := (*twilioapi.Error)(nil); !errors.As(err, &e) || e.Status != http.StatusInternalServerError || !e.Retryable() {
		t.Fatalf("failure = %v", err)
	}
}
