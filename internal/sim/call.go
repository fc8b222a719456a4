package sim

import (
	"context"
	"fmt"
	"net/url"

	"github.com/voiceagent/voiceagent/internal/fake"
)

// Attempt is one simulated incoming call up to the point the server
// decided: its webhook form, the answers it got and, when answered, the
// stream to open.
type Attempt struct {
	Params url.Values
	// Incoming is the answer of /voice/incoming.
	Incoming Answer
	// Accept is the answer of the follow-up to /voice/accept (empty when
	// the call was not answered).
	Accept Answer
	// StreamURL is the <Connect><Stream> URL ("" when none).
	StreamURL string
	// StreamParams are the stream's <Parameter>s.
	StreamParams map[string]string
}

// CallSID is the attempt's CallSid.
func (a *Attempt) CallSID() string { return a.Params.Get("CallSid") }

// Decision is what the server did with the call (see Answer.Decision).
func (a *Attempt) Decision() string {
	if a.StreamURL != "" {
		return "stream"
	}
	return a.Incoming.Decision()
}

// Place posts the incoming-call webhook for a new call from -> to and,
// when the server answers with a gather or redirect, follows it to
// /voice/accept as Twilio would, up to the <Connect><Stream>.
func (t *Target) Place(ctx context.Context, from, to string) (*Attempt, error) {
	return t.PlaceWith(ctx, t.CallParams(from, to))
}

// PlaceWith is Place with a prepared webhook form.
func (t *Target) PlaceWith(ctx context.Context, params url.Values) (*Attempt, error) {
	a := &Attempt{Params: params}
	ans, err := t.webhookTwiML(ctx, "/voice/incoming", params)
	if err != nil {
		return a, fmt.Errorf("/voice/incoming: %w", err)
	}
	a.Incoming = ans
	if u, p, ok := ans.Stream(); ok {
		a.StreamURL, a.StreamParams = u, p
		return a, nil
	}
	next := ans.Next()
	if next == "" {
		return a, nil
	}
	acc, err := t.webhookTwiML(ctx, next, params)
	if err != nil {
		return a, fmt.Errorf("%s: %w", next, err)
	}
	a.Accept = acc
	if u, p, ok := acc.Stream(); ok {
		a.StreamURL, a.StreamParams = u, p
	}
	return a, nil
}

func (t *Target) webhookTwiML(ctx context.Context, path string, params url.Values) (Answer, error) {
	code, body, err := t.Webhook(ctx, path, params)
	if err != nil {
		return Answer{}, err
	}
	if code < 200 || code > 299 {
		return Answer{}, &fake.StatusError{StatusCode: code, Body: string(body)}
	}
	return ParseTwiML(body)
}

// Connect opens the attempt's media stream with the attempt's CallSid.
func (t *Target) Connect(ctx context.Context, a *Attempt, opts fake.MediaOptions) (*fake.MediaClient, error) {
	if a.StreamURL == "" {
		return nil, fmt.Errorf("call %s was not answered with a stream (%s)", MaskSID(a.CallSID()), a.Decision())
	}
	opts.CallSid = a.CallSID()
	opts.AccountSid = a.Params.Get("AccountSid")
	if opts.CustomParameters == nil {
		opts.CustomParameters = a.StreamParams
	}
	return t.DialStream(ctx, a.StreamURL, opts)
}

// MaskSID shortens a call sid for printed tables and errors.
func MaskSID(sid string) string {
	if len(sid) < 10 {
		return sid
	}
	return sid[:6] + "…" + sid[len(sid)-4:]
}
