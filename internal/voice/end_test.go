package voice_test

import (
	"context"
	"sync"
	"testing"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// endings counts the call.ended events published per call.
type endings struct {
	mu sync.Mutex
	n  map[string]int
}

func (e *endings) Publish(ev events.Event) {
	if ev.Type != events.CallEnded {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == nil {
		e.n = map[string]int{}
	}
	e.n[ev.CallSID]++
}

func (e *endings) of(sid string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n[sid]
}

// endRig is a voice service on a real store of one engine.
type endRig struct {
	t    *testing.T
	db   *store.DB
	svc  *voice.Service
	ends *endings
}

func newEndRig(t *testing.T, db *store.DB) *endRig {
	ends := &endings{}
	svc := voice.New(voice.Deps{Calls: db.Calls(), Tokens: db.Calls(), Lists: db.Callers(), Audit: nopAudit{}, Events: ends},
		voice.Settings{MaxConcurrent: 50, Links: links, PhoneNumber: "+15005550001"})
	return &endRig{t: t, db: db, svc: svc, ends: ends}
}

// accepted admits a call to the service number and returns its CallSid.
func (r *endRig) accepted(n int) string {
	r.t.Helper()
	a, err := r.svc.Incoming(context.Background(), voice.Inbound{CallSID: sid(n), From: "+15555550100", To: "+15005550001"}, nil, false)
	if err != nil || a.Decision != voice.Accept {
		r.t.Fatalf("call %d = %v, %v", n, a.Decision, err)
	}
	return sid(n)
}

func (r *endRig) status(callSID, status string) {
	r.t.Helper()
	if err := r.svc.Status(context.Background(), voice.StatusUpdate{CallSID: callSID, Status: status, Sequence: -1}); err != nil {
		r.t.Fatalf("status %s: %v", status, err)
	}
}

func (r *endRig) end(callSID string, reason voice.EndReason) voice.EndResult {
	r.t.Helper()
	res, err := r.svc.EndCall(context.Background(), voice.CallEnd{CallSID: callSID, Reason: reason, By: "test"})
	if err != nil {
		r.t.Fatalf("EndCall(%s): %v", reason, err)
	}
	return res
}

// want checks the stored end reason and whether the record ended.
func (r *endRig) want(callSID string, reason voice.EndReason, ended bool) {
	r.t.Helper()
	c, err := r.db.Calls().FindCall(context.Background(), callSID, "")
	if err != nil {
		r.t.Fatal(err)
	}
	if c.EndReason != reason || (c.EndedAt != nil) != ended {
		r.t.Fatalf("end reason = %q ended = %v, want %q ended = %v", c.EndReason, c.EndedAt != nil, reason, ended)
	}
}

// TestEndReasonFirstEndWins: every way a call ends records its reason
// once; a later report changes nothing but what Twilio's final status adds,
// and only the first report announces the end.
func TestEndReasonFirstEndWins(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		r := newEndRig(t, db)
		ctx := context.Background()

		t.Run("status callback alone: caller hang-up", func(t *testing.T) {
			r.t = t
			c := r.accepted(1)
			r.want(c, "", false)
			r.status(c, "ringing")
			r.want(c, "", false)
			r.status(c, "completed")
			r.want(c, voice.EndCallerHangup, true)
			r.status(c, "completed")
			if n := r.ends.of(c); n != 1 {
				t.Fatalf("call.ended = %d, want 1", n)
			}
		})
		t.Run("the relay first, then the status callback", func(t *testing.T) {
			r.t = t
			c := r.accepted(2)
			if res := r.end(c, voice.EndAgentEnded); !res.Ended || !res.Announce() {
				t.Fatalf("first end = %+v, want ended and announced", res)
			}
			r.status(c, "completed")
			r.want(c, voice.EndAgentEnded, true)
			if res := r.end(c, voice.EndIdle); res.Ended || res.Announce() {
				t.Fatalf("second end = %+v, want nothing", res)
			}
			r.want(c, voice.EndAgentEnded, true)
			if n := r.ends.of(c); n != 0 {
				t.Fatalf("status callback announced an end the relay recorded (%d)", n)
			}
		})
		t.Run("a reason recorded before the hang-up survives the callback it causes", func(t *testing.T) {
			r.t = t
			c := r.accepted(3)
			if err := r.svc.EndingCall(ctx, voice.CallEnd{CallSID: c, Reason: voice.EndMaxDuration, By: "test"}); err != nil {
				t.Fatal(err)
			}
			r.want(c, voice.EndMaxDuration, false)
			r.status(c, "completed") // Twilio reports the hang-up first
			r.want(c, voice.EndMaxDuration, true)
			if res := r.end(c, voice.EndMaxDuration); res.Ended {
				t.Fatalf("end after the callback = %+v, want already ended", res)
			}
			if n := r.ends.of(c); n != 1 {
				t.Fatalf("call.ended = %d, want 1", n)
			}
		})
		t.Run("transferred: the record ends with Twilio's status and keeps the reason", func(t *testing.T) {
			r.t = t
			c := r.accepted(4)
			if res := r.end(c, voice.EndTransferred); !res.Transferred || res.Ended || res.Announce() {
				t.Fatalf("hand-over = %+v", res)
			}
			r.want(c, voice.EndTransferred, false)
			// The media stream ends as Twilio moves the call.
			if res := r.end(c, voice.EndCallerHangup); !res.Transferred || res.Ended {
				t.Fatalf("stream end after the hand-over = %+v, want transferred", res)
			}
			r.want(c, voice.EndTransferred, false)
			r.status(c, "completed")
			r.want(c, voice.EndTransferred, true)
		})
		t.Run("a refused hand-over is taken back", func(t *testing.T) {
			r.t = t
			c := r.accepted(5)
			r.end(c, voice.EndTransferred)
			if err := r.svc.ResumeCall(ctx, c); err != nil {
				t.Fatal(err)
			}
			r.want(c, "", false)
			if res := r.end(c, voice.EndModelError); !res.Ended {
				t.Fatalf("end after the resumed hand-over = %+v", res)
			}
			r.want(c, voice.EndModelError, true)
		})
		t.Run("refused calls", func(t *testing.T) {
			r.t = t
			a, err := r.svc.Incoming(ctx, voice.Inbound{CallSID: sid(6), From: "+15555550100", To: "+15005550009"}, nil, false)
			if err != nil || a.Decision == voice.Accept {
				t.Fatalf("wrong number = %v, %v", a.Decision, err)
			}
			r.want(sid(6), voice.EndRefused, false)
			r.status(sid(6), "busy")
			r.want(sid(6), voice.EndRefused, true)
		})
		t.Run("operator and machine", func(t *testing.T) {
			r.t = t
			for i, reason := range []voice.EndReason{voice.EndOperator, voice.EndMachine} {
				c := r.accepted(7 + i)
				if res := r.end(c, reason); !res.Ended {
					t.Fatalf("%s = %+v", reason, res)
				}
				r.want(c, reason, true)
			}
		})
		t.Run("bad reports", func(t *testing.T) {
			if _, err := r.svc.EndCall(ctx, voice.CallEnd{CallSID: sid(1), Reason: "bored"}); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("unknown reason: %v", err)
			}
			if _, err := r.svc.EndCall(ctx, voice.CallEnd{CallSID: "CA1", Reason: voice.EndOperator}); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("malformed CallSid: %v", err)
			}
			if _, err := r.svc.EndCall(ctx, voice.CallEnd{CallSID: sid(99), Reason: voice.EndOperator}); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("unknown call: %v", err)
			}
		})
	})
}

// TestEndCallRaceFirstWins: Twilio's final status callback and the relay's
// teardown report the end of the same call at the same moment. Exactly one
// of them ends the record and announces it, and the stored reason is the
// winner's.
func TestEndCallRaceFirstWins(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		r := newEndRig(t, db)
		ctx := context.Background()
		for i := range 20 {
			c := r.accepted(100 + i)
			var wg sync.WaitGroup
			var res voice.EndResult
			var errEnd, errStatus error
			wg.Add(2)
			go func() {
				defer wg.Done()
				res, errEnd = r.svc.EndCall(ctx, voice.CallEnd{CallSID: c, Reason: voice.EndAgentEnded, By: "relay"})
			}()
			go func() {
				defer wg.Done()
				errStatus = r.svc.Status(ctx, voice.StatusUpdate{CallSID: c, Status: "completed", Sequence: -1})
			}()
			wg.Wait()
			if errEnd != nil || errStatus != nil {
				t.Fatalf("call %d: EndCall %v, Status %v", i, errEnd, errStatus)
			}
			byStatus := r.ends.of(c)
			if announced := byStatus + map[bool]int{true: 1}[res.Announce()]; announced != 1 {
				t.Fatalf("call %d: announced %d times (relay %v, status callback %d), want once", i, announced, res.Announce(), byStatus)
			}
			if res.Ended {
				r.want(c, voice.EndAgentEnded, true)
			} else {
				r.want(c, voice.EndCallerHangup, true)
			}
		}
	})
}
