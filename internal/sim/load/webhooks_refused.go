package load

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/sim"
)

// incomingRequest is one /voice/incoming request of a webhook run: signed
// as Twilio signs it, or (unsigned) the same form with no signature, which
// the server must refuse without a database write per request.
func incomingRequest(ctx context.Context, t sim.Target, p url.Values, unsigned bool) (*http.Request, error) {
	if !unsigned {
		return fake.SignedRequest(ctx, http.MethodPost, t.BaseURL, t.PublicURL, "/voice/incoming", t.AuthToken, p)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.BaseURL+"/voice/incoming", strings.NewReader(p.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// signedOrNot names the kind of request in a webhook report.
func signedOrNot(unsigned bool) string {
	if unsigned {
		return "unsigned (refused)"
	}
	return "signed"
}
