package fake

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PlacedCall is a call created through the fake (POST .../Calls.json),
// with the form Twilio received.
type PlacedCall struct {
	SID  string
	Form url.Values
}

// createCallLocked records a new outbound call and answers like Twilio:
// 201 with the Call resource, status queued.
func (f *TwilioREST) createCallLocked(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	if form.Get("To") == "" || form.Get("From") == "" {
		writeRESTError(w, http.StatusBadRequest, 21201, "No 'To' number is specified")
		return
	}
	if form.Get("Url") == "" && form.Get("Twiml") == "" {
		writeRESTError(w, http.StatusBadRequest, 21205, "Url parameter is required")
		return
	}
	sid := NewSid("CA")
	f.placed = append(f.placed, PlacedCall{SID: sid, Form: cloneValues(form)})
	writeRESTJSON(w, http.StatusCreated, map[string]any{
		"sid": sid, "account_sid": f.AccountSID, "to": form.Get("To"), "from": form.Get("From"),
		"status": "queued", "direction": "outbound-api", "api_version": "2010-04-01",
	})
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// PlacedCalls returns the calls created through the fake, oldest first.
func (f *TwilioREST) PlacedCalls() []PlacedCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]PlacedCall, len(f.placed))
	for i, p := range f.placed {
		out[i] = PlacedCall{SID: p.SID, Form: cloneValues(p.Form)}
	}
	return out
}

// SetWebhookTarget makes the fake deliver the webhooks of placed calls
// (AnswerCall, SendCallStatus) to baseURL, the address the server under
// test listens on, signed with authToken over the URLs given when the
// call was created (PUBLIC_URL-based), as Twilio signs them.
func (f *TwilioREST) SetWebhookTarget(baseURL, authToken string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hookBase, f.hookToken = strings.TrimRight(baseURL, "/"), authToken
}

// WebhookAnswer is the server's answer to a webhook the fake delivered.
type WebhookAnswer struct {
	Status int
	Body   []byte
}

// AnswerCall plays the callee answering a placed call: Twilio fetches the
// call's Url (POST, signed) with CallStatus in-progress and
// Direction outbound-api. answeredBy is sent as AnsweredBy only when the
// call asked for machine detection (as Twilio does); "" means human.
func (f *TwilioREST) AnswerCall(ctx context.Context, callSID, answeredBy string) (WebhookAnswer, error) {
	p, ok := f.placedCall(callSID)
	if !ok {
		return WebhookAnswer{}, fmt.Errorf("fake twilio: no placed call %s", callSID)
	}
	form := f.callForm(p, "in-progress")
	if p.Form.Get("MachineDetection") != "" {
		if answeredBy == "" {
			answeredBy = "human"
		}
		form.Set("AnsweredBy", answeredBy)
	}
	return f.deliver(ctx, p.Form.Get("Url"), form)
}

// SendCallStatus posts a status callback of a placed call (CallStatus,
// with CallDuration when seconds >= 0) to its StatusCallback.
func (f *TwilioREST) SendCallStatus(ctx context.Context, callSID, status string, seconds int) (WebhookAnswer, error) {
	p, ok := f.placedCall(callSID)
	if !ok {
		return WebhookAnswer{}, fmt.Errorf("fake twilio: no placed call %s", callSID)
	}
	form := f.callForm(p, status)
	if seconds >= 0 {
		form.Set("CallDuration", strconv.Itoa(seconds))
	}
	form.Set("CallbackSource", "call-progress-events")
	return f.deliver(ctx, p.Form.Get("StatusCallback"), form)
}

func (f *TwilioREST) placedCall(callSID string) (PlacedCall, bool) {
	for _, p := range f.PlacedCalls() {
		if p.SID == callSID {
			return p, true
		}
	}
	return PlacedCall{}, false
}

func (f *TwilioREST) callForm(p PlacedCall, status string) url.Values {
	return url.Values{
		"CallSid": {p.SID}, "AccountSid": {f.AccountSID}, "From": {p.Form.Get("From")}, "To": {p.Form.Get("To")},
		"CallStatus": {status}, "Direction": {"outbound-api"}, "ApiVersion": {"2010-04-01"},
	}
}

// deliver posts a signed form to signedURL's path at the webhook target.
func (f *TwilioREST) deliver(ctx context.Context, signedURL string, form url.Values) (WebhookAnswer, error) {
	f.mu.Lock()
	base, token := f.hookBase, f.hookToken
	f.mu.Unlock()
	if base == "" {
		return WebhookAnswer{}, fmt.Errorf("fake twilio: no webhook target (SetWebhookTarget)")
	}
	u, err := url.Parse(signedURL)
	if err != nil || u.Host == "" {
		return WebhookAnswer{}, fmt.Errorf("fake twilio: webhook URL %q is not absolute", signedURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+u.RequestURI(), strings.NewReader(form.Encode()))
	if err != nil {
		return WebhookAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", Signature(token, signedURL, form))
	req.Header.Set("I-Twilio-Idempotency-Token", NewSid("ID"))
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return WebhookAnswer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return WebhookAnswer{Status: resp.StatusCode, Body: body}, err
}
