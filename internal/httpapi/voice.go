package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/httprate"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// CallLimiter throttles incoming calls with httprate, keyed on the caller
// number rather than the IP (every webhook comes from Twilio): once per
// caller, then once for all callers, each at CALLS_PER_MINUTE.
type CallLimiter struct {
	perCaller *httprate.RateLimiter
	global    *httprate.RateLimiter
}

// NewCallLimiter returns a limiter allowing perMinute calls a minute per
// caller and in total. Counters are per instance.
func NewCallLimiter(perMinute int) *CallLimiter {
	opts := []httprate.Option{httprate.WithResponseHeaders(httprate.ResponseHeaders{})}
	return &CallLimiter{
		perCaller: httprate.NewRateLimiter(perMinute, time.Minute, opts...),
		global:    httprate.NewRateLimiter(perMinute, time.Minute, opts...),
	}
}

// requestThrottle binds the limiter to one webhook request; the policy
// calls it only when the earlier rules let the call through.
type requestThrottle struct {
	l *CallLimiter
	w http.ResponseWriter
	r *http.Request
}

// Throttled implements voice.Throttle.
func (t requestThrottle) Throttled(caller string) string {
	if t.l == nil {
		return ""
	}
	if t.l.perCaller.OnLimit(t.w, t.r, "caller:"+caller) {
		return voice.ReasonThrottledCaller
	}
	if t.l.global.OnLimit(t.w, t.r, "all") {
		return voice.ReasonThrottledGlobal
	}
	return ""
}

// inbound reads the voice webhook parameters: the signed form body for
// POST, the signed query string otherwise. Unknown parameters are ignored
// (Twilio adds new ones over time).
func inbound(r *http.Request) (voice.Inbound, error) {
	var p url.Values
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return voice.Inbound{}, apperr.New(apperr.Invalid, "malformed form body")
		}
		p = r.PostForm
	} else {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return voice.Inbound{}, apperr.New(apperr.Invalid, "malformed query string")
		}
		p = q
	}
	return voice.Inbound{
		CallSID:        p.Get("CallSid"),
		AccountSID:     p.Get("AccountSid"),
		From:           p.Get("From"),
		To:             p.Get("To"),
		FromCountry:    p.Get("FromCountry"),
		CallerName:     p.Get("CallerName"),
		CallStatus:     p.Get("CallStatus"),
		IdempotencyKey: r.Header.Get("I-Twilio-Idempotency-Token"),
	}, nil
}

// handleVoiceIncoming is POST /voice/incoming: the always-accept policy.
// While the server drains, new calls get <Reject reason="busy"/>.
func (s *Server) handleVoiceIncoming(w http.ResponseWriter, r *http.Request) {
	in, err := inbound(r)
	if err != nil {
		s.writeTwiMLError(w, r, err)
		return
	}
	a, err := s.Voice.Incoming(r.Context(), in, requestThrottle{s.CallLimiter, w, r}, s.Draining())
	if err != nil {
		s.writeTwiMLError(w, r, err)
		return
	}
	writeTwiML(w, http.StatusOK, a.TwiML)
}

// handleVoiceAccept is POST /voice/accept (the Gather action and its
// fallback Redirect): <Connect><Stream> with a one-time token.
func (s *Server) handleVoiceAccept(w http.ResponseWriter, r *http.Request) {
	in, err := inbound(r)
	if err != nil {
		s.writeTwiMLError(w, r, err)
		return
	}
	a, err := s.Voice.Connect(r.Context(), in, requestThrottle{s.CallLimiter, w, r}, s.Draining())
	if err != nil {
		s.writeTwiMLError(w, r, err)
		return
	}
	writeTwiML(w, http.StatusOK, a.TwiML)
}

// handleTwiML is ALL /twiml (the other seed's entry point): the same
// <Connect><Stream> answer straight away, for a signed request of any
// method. When PUBLIC_URL is not https no stream can be offered: 500 with
// the generic internal error and no TwiML; the reason goes to the log
// only, so the answer says nothing about the configuration.
func (s *Server) handleTwiML(w http.ResponseWriter, r *http.Request) {
	if s.cfg.PublicURL == nil || s.cfg.PublicURL.Scheme != "https" {
		s.writeError(w, r, apperr.Wrap(errors.New("twiml refused: PUBLIC_URL must be https to offer a media stream (wss://)"), apperr.Internal, "internal error"))
		return
	}
	in, err := inbound(r)
	if err != nil {
		s.writeTwiMLError(w, r, err)
		return
	}
	a, err := s.Voice.Connect(r.Context(), in, requestThrottle{s.CallLimiter, w, r}, s.Draining())
	if err != nil {
		s.writeTwiMLError(w, r, err)
		return
	}
	writeTwiML(w, http.StatusOK, a.TwiML)
}

// handleVoiceStatus is POST /voice/status: call status callbacks update
// the call record; a final status frees the call's capacity slot. Twilio
// only looks at the status code.
func (s *Server) handleVoiceStatus(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeTwiMLError(w, r, apperr.New(apperr.Invalid, "malformed form body"))
		return
	}
	p := r.PostForm
	u := voice.StatusUpdate{CallSID: p.Get("CallSid"), Status: p.Get("CallStatus"), Sequence: -1}
	if v := p.Get("CallDuration"); v != "" {
		d, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.writeTwiMLError(w, r, apperr.New(apperr.Invalid, "CallDuration must be a whole number of seconds"))
			return
		}
		u.DurationSec = &d
	}
	if v := p.Get("SequenceNumber"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.writeTwiMLError(w, r, apperr.New(apperr.Invalid, "SequenceNumber must be a non-negative whole number"))
			return
		}
		u.Sequence = n
	}
	if err := s.Voice.Status(r.Context(), u); err != nil {
		s.writeTwiMLError(w, r, err)
		return
	}
	writeTwiML(w, http.StatusOK, voice.EmptyTwiML())
}
