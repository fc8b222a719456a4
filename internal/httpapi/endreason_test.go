package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// endReasonOf reads the call's recorded end reason and whether its record
// ended.
func endReasonOf(t *testing.T, db *store.DB, callSID string) (voice.EndReason, bool) {
	t.Helper()
	c, err := db.Calls().FindCall(context.Background(), callSID, "")
	if err != nil {
		t.Fatal(err)
	}
	return c.EndReason, c.EndedAt != nil
}

// waitEnded waits until the call's record ended and checks its reason.
func waitEnded(t *testing.T, db *store.DB, callSID string, want voice.EndReason) {
	t.Helper()
	waitFor(t, "the call's end recorded", func() bool { _, ended := endReasonOf(t, db, callSID); return ended })
	if got, _ := endReasonOf(t, db, callSID); got != want {
		t.Fatalf("end reason = %q, want %q", got, want)
	}
}

// twilioStatus posts Twilio's final status callback from inside the fake
// REST server (as Twilio reports a hang-up while answering it); errors
// are kept for the test goroutine.
type twilioStatus struct {
	mu   sync.Mutex
	errs []string
}

func (s *twilioStatus) post(r *liveRig, callSID string) {
	form := url.Values{"CallSid": {callSID}, "AccountSid": {apptest.AccountSID}, "CallStatus": {"completed"}, "CallDuration": {"4"}}
	req, err := fake.SignedRequest(context.Background(), http.MethodPost, r.srv.URL, apptest.PublicURL, "/voice/status", apptest.AuthToken, form)
	if err == nil {
		var resp *http.Response
		if resp, err = http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = &url.Error{Op: "status callback", URL: req.URL.String(), Err: http.ErrNotSupported}
			}
		}
	}
	if err != nil {
		s.mu.Lock()
		s.errs = append(s.errs, err.Error())
		s.mu.Unlock()
	}
}

func (s *twilioStatus) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) > 0 {
		t.Fatalf("status callbacks failed: %v", s.errs)
	}
}

// TestEndReasonPerPath: each way a call ends, driven through the real
// router, relay and store, records its end reason once, on both engines.
// Where the relay hangs up through Twilio, Twilio's status callback
// arrives while the relay is still tearing the call down (the fake posts
// it from inside the hang-up request): the relay's reason still wins.
func TestEndReasonPerPath(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		t.Run("refused, then Twilio's busy status", func(t *testing.T) {
			r := newLiveRig(t, db, nil)
			params := fake.DefaultCallParams("+15555550151", "+15005550009") // not the service number
			params.Set("AccountSid", apptest.AccountSID)
			r.webhook(t, "/voice/incoming", params)
			r.statusCallback(t, params.Get("CallSid"), "busy", 0, 1)
			waitEnded(t, db, params.Get("CallSid"), voice.EndRefused)
		})
		t.Run("hung up before the stream", func(t *testing.T) {
			r := newLiveRig(t, db, nil)
			params := fake.DefaultCallParams("+15555550152", "+15005550001")
			params.Set("AccountSid", apptest.AccountSID)
			r.webhook(t, "/voice/incoming", params)
			r.webhook(t, "/voice/accept", params)
			r.statusCallback(t, params.Get("CallSid"), "completed", 2, 2)
			waitEnded(t, db, params.Get("CallSid"), voice.EndCallerHangup)
		})
		t.Run("the caller stops the stream", func(t *testing.T) {
			r := newLiveRig(t, db, nil)
			media, sid := r.call(t, "+15555550153")
			greeted(t, media)
			_ = media.Stop()
			waitEnded(t, db, sid, voice.EndCallerHangup)
			r.statusCallback(t, sid, "completed", 3, 3)
			waitEnded(t, db, sid, voice.EndCallerHangup)
		})
		relayEnds := []struct {
			name  string
			env   map[string]string
			setup func(r *liveRig)
			act   func(t *testing.T, r *liveRig, media *fake.MediaClient)
			want  voice.EndReason
		}{
			{name: "idle", env: map[string]string{"CALL_IDLE_TIMEOUT": "300ms"}, want: voice.EndIdle},
			{name: "max duration", env: map[string]string{"MAX_CALL_DURATION": "300ms"}, want: voice.EndMaxDuration},
			{name: "agent ends the call", want: voice.EndAgentEnded,
				setup: func(r *liveRig) { r.rt.NextResponseCallsTool("end_call", `{"reason":"the caller is done"}`) },
				act: func(t *testing.T, r *liveRig, media *fake.MediaClient) {
					_ = media.SendSilence(40) // the goodbye plays, then the relay hangs up
				}},
			{name: "model drops", want: voice.EndModelError,
				act: func(t *testing.T, r *liveRig, media *fake.MediaClient) {
					sess, err := r.rt.WaitSession(ctxFor(t), 1)
					if err != nil {
						t.Fatal(err)
					}
					sess.CloseAbruptly()
				}},
		}
		for _, tc := range relayEnds {
			t.Run(tc.name, func(t *testing.T) {
				r := newLiveRig(t, db, tc.env)
				if tc.setup != nil {
					tc.setup(r)
				}
				cb := &twilioStatus{}
				// The rig's one call: Twilio reports its end while
				// answering the hang-up.
				r.rest.OnCallUpdate(func(sid string) { cb.post(r, sid) })
				media, sid := r.call(t, "+15555550154")
				if tc.act != nil {
					greeted(t, media)
					tc.act(t, r, media)
				}
				waitFor(t, "the relay's hang-up", func() bool { return len(r.rest.Requests(fake.OpUpdateCall)) > 0 })
				waitEnded(t, db, sid, tc.want)
				cb.check(t)
			})
		}
	})
}
