package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// TestStreamTokensDieWithTheirCall: on both engines, a final status leaves
// no unused token to revoke, a token of an ended call does not redeem, and
// none is stored for an ended call.
func TestStreamTokensDieWithTheirCall(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Calls()
		tok := func(n int, hash string) voice.StreamToken {
			return voice.StreamToken{Hash: hash, CallSID: sid(n), CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
		}
		for _, n := range []int{41, 42, 43} {
			if _, _, err := s.AdmitCall(ctx, acceptedCall(n, ""), nil); err != nil {
				t.Fatal(err)
			}
		}
		// Revoked: the unused token is gone.
		if err := s.PutStreamToken(ctx, tok(41, "h41")); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeStreamTokens(ctx, sid(41)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UseStreamToken(ctx, "h41", t0); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("revoked token redeemed: %v", err)
		}
		// Ended without revocation: the token does not redeem.
		if err := s.PutStreamToken(ctx, tok(42, "h42")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EndCall(ctx, voice.CallEnd{CallSID: sid(42), Reason: voice.EndCallerHangup, At: t0}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UseStreamToken(ctx, "h42", t0); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("token of an ended call redeemed: %v", err)
		}
		// Ended: no token is stored.
		if _, err := s.UpdateCallStatus(ctx, voice.StatusUpdate{CallSID: sid(43), Status: "completed", Sequence: -1, At: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutStreamToken(ctx, tok(43, "h43")); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("token stored for an ended call: %v", err)
		}
		// A live call's token still works.
		if _, _, err := s.AdmitCall(ctx, acceptedCall(44, ""), nil); err != nil {
			t.Fatal(err)
		}
		if err := s.PutStreamToken(ctx, tok(44, "h44")); err != nil {
			t.Fatal(err)
		}
		if got, err := s.UseStreamToken(ctx, "h44", t0); err != nil || got != sid(44) {
			t.Fatalf("live token = %q, %v", got, err)
		}
	})
}
