package voice

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/events"
)

// StreamTokenTTL is how long a media-stream token can be redeemed. Twilio
// opens the stream right after /voice/accept answers.
const StreamTokenTTL = 45 * time.Second

// Connect answers POST /voice/accept and /twiml: for a call the policy
// accepted, <Connect><Stream> to wss://<PUBLIC_URL host>/media-stream/<token>
// with a fresh one-time token bound to the CallSid (only its hash is
// stored). A call that was not accepted gets its decision's TwiML again; a
// call never seen runs the policy first.
//
// It is idempotent per CallSid: a retry stores a new token in place of the
// unused one (the old token dies), so a call never holds two. Once the
// call's token was used the stream is running, Twilio already acted on an
// answer and a late retry gets an empty one.
func (s *Service) Connect(ctx context.Context, in Inbound, th Throttle, draining bool) (Answer, error) {
	in = in.normalize()
	if !ValidCallSID(in.CallSID) {
		return Answer{}, apperr.New(apperr.Invalid, "CallSid is missing or malformed")
	}
	if s.settings.Links.StreamBase == "" {
		return Answer{}, apperr.New(apperr.Internal, "PUBLIC_URL must be https for media streams")
	}
	a, err := s.admitted(ctx, in, th, draining)
	if err != nil || a.Decision != Accept {
		return a, err
	}
	if a.Ended { // a replay for a finished call: mint nothing, warm nothing
		return endedAnswer(), nil
	}
	// The caller is the one recorded when the call was decided, not what
	// this delivery says.
	return s.stream(ctx, in.CallSID, a.From)
}

// stream mints the call's one-time token and answers <Connect><Stream>
// with callSid and party (the other end of the call) as parameters,
// pre-warming the model session. A call whose token was used already
// gets an empty answer, one that has ended <Hangup/>.
func (s *Service) stream(ctx context.Context, callSID, party string) (Answer, error) {
	token, hash, err := newStreamToken()
	if err != nil {
		return Answer{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	err = s.tokens.PutStreamToken(ctx, StreamToken{Hash: hash, CallSID: callSID, CreatedAt: now, ExpiresAt: now.Add(StreamTokenTTL)})
	if apperr.Is(err, apperr.Conflict) {
		return Answer{TwiML: EmptyTwiML(), Decision: Accept, Replayed: true}, nil
	}
	if apperr.Is(err, apperr.Forbidden) { // ended since it was read
		return endedAnswer(), nil
	}
	if err != nil {
		return Answer{}, err
	}
	tw, err := StreamTwiML(s.settings.Links.StreamBase, token, callSID, party)
	if err != nil {
		return Answer{}, err
	}
	if s.prewarm != nil {
		s.prewarm.Prewarm(callSID)
	}
	s.events.Publish(events.Event{Type: events.CallAccepted, CallSID: callSID, Time: s.now()})
	return Answer{TwiML: tw, Decision: Accept}, nil
}

// endedAnswer is Connect's answer for a call that has ended: <Hangup/>.
func endedAnswer() Answer {
	return Answer{TwiML: HangupTwiML(), Decision: Accept, Replayed: true, Ended: true}
}

// RedeemStreamToken checks the token of a media-stream upgrade: valid,
// unused and unexpired marks it used and returns the CallSid it was issued
// for; the call must not have ended (the store checks in the same
// statement). Anything else is apperr Forbidden, with no hint which.
func (s *Service) RedeemStreamToken(ctx context.Context, token string) (string, error) {
	if len(token) < 16 || len(token) > 128 {
		return "", apperr.New(apperr.Forbidden, "invalid stream token")
	}
	callSID, err := s.tokens.UseStreamToken(ctx, HashToken(token), s.now())
	if apperr.Is(err, apperr.NotFound) {
		return "", apperr.New(apperr.Forbidden, "invalid stream token")
	}
	if err != nil {
		return "", err
	}
	return callSID, nil
}

// HashToken is the stored form of a stream token (hex SHA-256). The token
// carries 256 random bits, so a plain hash cannot be reversed.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newStreamToken returns a URL-safe random token and its hash.
func newStreamToken() (token, hash string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token), nil
}
