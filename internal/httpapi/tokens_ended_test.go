package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// unusedTokens counts a call's stream tokens not yet redeemed.
func unusedTokens(t *testing.T, srv *apptest.Server, callSID string) int {
	t.Helper()
	var n int
	if err := srv.DB.SQL.QueryRowContext(context.Background(),
		`SELECT COUNT(*) FROM stream_tokens WHERE call_sid = $1 AND used_at IS NULL`, callSID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStreamTokensDieWithTheirCall: after a signed final status callback
// the call's unused token no longer upgrades; replaying /voice/accept or
// /twiml for the ended call answers <Hangup/>, mints no token and warms
// no model session.
func TestStreamTokensDieWithTheirCall(t *testing.T) {
	logs := &apptest.LogBuffer{}
	srv := apptest.New(t, apptest.Options{Logs: logs, Env: map[string]string{"REALTIME_URL": "ws://127.0.0.1:1/v1/realtime"}})
	ctx := context.Background()
	p := incomingParams(1, caller)
	sid := p.Get("CallSid")
	postTwilio(t, srv, "/voice/incoming", p, nil)
	_, body := postTwilio(t, srv, "/voice/accept", p, nil)
	u, _ := streamOf(t, parseResponse(t, body))
	tok := tokenOf(t, u)
	waitFor(t, "the pre-warm of the live call", func() bool { return strings.Count(logs.String(), "pre-warm") == 1 })

	st, _ := postTwilio(t, srv, "/voice/status", url.Values{"CallSid": {sid}, "AccountSid": {apptest.AccountSID}, "CallStatus": {"completed"}}, nil)
	if st != http.StatusOK {
		t.Fatalf("status callback = %d", st)
	}
	if n := unusedTokens(t, srv, sid); n != 0 {
		t.Fatalf("unused tokens after the final status = %d, want 0", n)
	}
	if _, err := srv.Voice.RedeemStreamToken(ctx, tok); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("redeem after the call ended: %v, want forbidden", err)
	}

	for i := 0; i < 10; i++ {
		for _, path := range []string{"/voice/accept", "/twiml"} {
			st, body := postTwilio(t, srv, path, p, nil)
			if st != http.StatusOK || parseResponse(t, body).shape() != "Hangup" {
				t.Fatalf("%s for an ended call = %d %s, want <Hangup/>", path, st, body)
			}
		}
	}
	if n := unusedTokens(t, srv, sid); n != 0 {
		t.Fatalf("tokens minted for an ended call: %d", n)
	}
	// A live call's pre-warm is logged after the replays': none came
	// before it for the ended call.
	p2 := incomingParams(2, caller)
	postTwilio(t, srv, "/voice/incoming", p2, nil)
	postTwilio(t, srv, "/voice/accept", p2, nil)
	waitFor(t, "the pre-warm of the second call", func() bool { return strings.Contains(logs.String(), p2.Get("CallSid")+`","err"`) })
	n := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "pre-warm") && strings.Contains(line, sid) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("pre-warm attempts for the ended call = %d, want 1 (none for its replays)", n)
	}
}

// TestRedeemChecksTheCallIsLive: a token whose call ended without a status
// callback (the relay recorded the end) does not redeem.
func TestRedeemChecksTheCallIsLive(t *testing.T) {
	srv := newVoiceServer(t, nil)
	ctx := context.Background()
	p := incomingParams(3, caller)
	postTwilio(t, srv, "/voice/incoming", p, nil)
	_, body := postTwilio(t, srv, "/voice/accept", p, nil)
	u, _ := streamOf(t, parseResponse(t, body))
	tok := tokenOf(t, u)
	if _, err := srv.Voice.EndCall(ctx, voice.CallEnd{CallSID: p.Get("CallSid"), Reason: voice.EndCallerHangup, By: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Voice.RedeemStreamToken(ctx, tok); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("redeem for an ended call: %v, want forbidden", err)
	}
}
