package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
)

// StreamTokens redeems the one-time media-stream tokens that /voice/accept
// puts into the <Stream> URL (the inbound-calls service).
type StreamTokens interface {
	// RedeemStreamToken marks the token used and returns the CallSid it was
	// issued for. An unknown, used or expired token is an apperr error.
	RedeemStreamToken(ctx context.Context, token string) (callSID string, err error)
}

// StreamSlots is implemented by a StreamTokens that also holds calls to
// capacity (the inbound-calls service): a stream whose call holds no live
// slot, and cannot get one under the cap, is refused.
type StreamSlots interface {
	ClaimStreamSlot(ctx context.Context, callSID string) (bool, error)
}

// handleMediaStream is GET /media-stream/{token} (and /call/{token}, the
// other seed's path): Twilio's Media Streams WebSocket. The upgrade is
// refused unless it carries no Origin, a valid X-Twilio-Signature (when
// validation is on) and a valid, unused, unexpired one-time token; every
// refusal is audited. The call then runs in the relay until it ends.
func (s *Server) handleMediaStream(w http.ResponseWriter, r *http.Request) {
	if s.refusalLimited(w, r, "media", "twilio-media", mediaLogPath(r.URL.Path)) {
		s.writeError(w, r, apperr.New(apperr.RateLimited, "too many refused requests; try again later"))
		return
	}
	if r.Header.Get("Origin") != "" {
		s.mediaRefused(w, r, apperr.Forbidden, "origin_present")
		return
	}
	if s.cfg.TwilioValidate {
		sig := r.Header.Get("X-Twilio-Signature")
		if sig == "" {
			s.mediaRefused(w, r, apperr.Unauthenticated, "missing_signature")
			return
		}
		if !s.validUpgradeSignature(r, sig) {
			s.mediaRefused(w, r, apperr.Forbidden, "bad_signature")
			return
		}
	}
	token := chi.URLParam(r, "token")
	if !plainToken(token) {
		s.mediaRefused(w, r, apperr.Unauthenticated, "missing_token")
		return
	}
	callSID, err := s.StreamTokens.RedeemStreamToken(r.Context(), token)
	if err != nil {
		switch apperr.CodeOf(err) {
		case apperr.NotFound, apperr.Conflict, apperr.Forbidden, apperr.Invalid, apperr.Unauthenticated:
			s.mediaRefused(w, r, apperr.Forbidden, "bad_token")
		default:
			s.writeError(w, r, err)
		}
		return
	}
	// Recorded only now: an unauthenticated client cannot make us write it.
	s.Audit.Record(audit.Event{
		Type:     audit.TypeConnectionAttempt,
		Actor:    "twilio-media",
		RemoteIP: ClientIP(r.Context()),
		CallSID:  callSID,
		Detail:   map[string]any{"surface": "media", "path": mediaLogPath(r.URL.Path)},
	})
	if slots, ok := s.StreamTokens.(StreamSlots); ok {
		granted, err := slots.ClaimStreamSlot(r.Context(), callSID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !granted {
			s.logger(r).Warn("media stream refused: the call holds no capacity slot", "call_sid", callSID)
			s.writeError(w, r, apperr.New(apperr.Unavailable, "no capacity for this call's stream"))
			return
		}
	}
	conn, err := s.Relay.Upgrade(w, r, s.upgradeError)
	if err != nil {
		s.logger(r).Info("media stream upgrade failed", "call_sid", callSID, "err", err)
		return
	}
	s.Relay.Serve(conn, callSID, ClientIP(r.Context()))
}

// validUpgradeSignature checks X-Twilio-Signature over the URL Twilio
// dialled, rebuilt from PUBLIC_URL and the raw request URI (never from
// Host or forwarded headers), in the wss:// form Twilio signs or the
// https:// form (twiliosig, over twilio-go's validator).
func (s *Server) validUpgradeSignature(r *http.Request, sig string) bool {
	return s.twilioSig.ValidUpgrade(r.RequestURI, sig)
}

// plainToken accepts the shape of a one-time token (URL-safe, bounded)
// before any database work is done for it.
func plainToken(t string) bool {
	if len(t) < 16 || len(t) > 128 {
		return false
	}
	return strings.IndexFunc(t, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_')
	}) < 0
}

// mediaRefused answers a refused upgrade and counts it (aggregated audit
// row, sampled log line: noteRefusal); the reason is recorded but never
// sent, and the token never reaches a log or audit row. code is
// apperr.Unauthenticated (401) or apperr.Forbidden (403).
func (s *Server) mediaRefused(w http.ResponseWriter, r *http.Request, code apperr.Code, reason string) {
	s.Metrics.AuthFailures.WithLabelValues("media").Inc()
	s.noteRefusal(r, "media", "twilio-media", mediaLogPath(r.URL.Path), reason)
	s.writeError(w, r, apperr.New(code, "media stream refused"))
}

// mediaLogPath hides the one-time token of a media-stream path, for logs
// and audit rows.
func mediaLogPath(p string) string {
	for _, prefix := range []string{"/media-stream/", "/call/"} {
		if strings.HasPrefix(p, prefix) {
			return prefix + "{token}"
		}
	}
	return p
}
