package httpapi_test

import (
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
)

// TestAcceptPrewarmsTheRelay holds internal/app's wiring of the
// inbound-call service to the relay: answering /voice/accept opens the
// call's model session before any media stream arrives.
func TestAcceptPrewarmsTheRelay(t *testing.T) {
	rig := newLiveRig(t, nil, nil)
	params := fake.DefaultCallParams("+14155550142", "+15005550001")
	params.Set("AccountSid", apptest.AccountSID)
	rig.webhook(t, "/voice/incoming", params)
	rig.webhook(t, "/voice/accept", params)
	if _, err := rig.rt.WaitSession(ctxFor(t), 1); err != nil {
		t.Fatalf("no model session opened after /voice/accept (pre-warm not wired): %v", err)
	}
}
