package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/conference"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

type nopAuditor struct{}

func (nopAuditor) Record(audit.Event) {}

const (
	confCaller = "CA00000000000000000000000000000abc"
	confTarget = "CA00000000000000000000000000000def"
	confSID    = "CF00000000000000000000000000000001"
)

func TestConferenceStoreEvents(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Conferences()
		now := time.Now()
		name := conference.NameFor(confCaller)
		if _, err := s.GetConference(ctx, name); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("unknown: err = %v", err)
		}
		if _, err := s.EnsureConference(ctx, name, confCaller, now); err != nil {
			t.Fatal(err)
		}
		if err := s.UpsertParticipant(ctx, name, conference.Participant{CallSID: confTarget, Number: "+15555550100", Role: conference.RoleTarget, Status: "dialing"}, now); err != nil {
			t.Fatal(err)
		}
		ev := func(seq int64, typ, call, key string) conference.Event {
			return conference.Event{ConferenceSID: confSID, Name: name, Sequence: seq, Type: typ, CallSID: call, IdempotencyKey: key, Params: map[string]string{"StatusCallbackEvent": typ}}
		}
		// Out of order: leave (3) before join (2); end (5) before start (1).
		for _, e := range []struct {
			ev   conference.Event
			want bool
		}{
			{ev(3, "participant-leave", confTarget, "k3"), true},
			{ev(5, "conference-end", "", "k5"), true},
			{ev(2, "participant-join", confTarget, "k2"), true},
			{ev(1, "conference-start", "", ""), true},
			{ev(3, "participant-leave", confTarget, "k3-retry"), false}, // same sid+seq
			{ev(9, "participant-join", confTarget, "k2"), false},        // same idempotency token
			{ev(4, "participant-join", confCaller, ""), true},
		} {
			got, err := s.InsertEvent(ctx, e.ev, now)
			if err != nil || got != e.want {
				t.Fatalf("InsertEvent(%d %s) = %v, %v; want %v", e.ev.Sequence, e.ev.Type, got, err, e.want)
			}
		}
		// The API's late "dialing" must not undo a callback's status.
		if err := s.UpsertParticipant(ctx, name, conference.Participant{CallSID: confTarget, Number: "+15555550100", Role: conference.RoleTarget, Status: "dialing"}, now); err != nil {
			t.Fatal(err)
		}
		c, err := s.GetConference(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != conference.StatusCompleted || c.ConferenceSID != confSID {
			t.Fatalf("conference = %s %s, want completed with SID", c.Status, c.ConferenceSID)
		}
		if len(c.Events) != 5 || c.Events[0].Sequence != 1 || c.Events[4].Sequence != 5 {
			t.Fatalf("events = %+v", c.Events)
		}
		byCall := map[string]conference.Participant{}
		for _, p := range c.Participants {
			byCall[p.CallSID] = p
		}
		if p := byCall[confTarget]; p.Status != "left" || p.Number != "+15555550100" || p.Role != conference.RoleTarget {
			t.Fatalf("target = %+v, want left", p)
		}
		if p := byCall[confCaller]; p.Status != "joined" || p.Role != conference.RoleCaller {
			t.Fatalf("caller = %+v", p)
		}
	})
}

func TestCallStateAndDenyList(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Calls()
		if known, _, err := s.CallState(ctx, confCaller); err != nil || known {
			t.Fatalf("unknown call: %v %v", known, err)
		}
		ms := time.Now().UnixMilli()
		if _, err := db.SQL.ExecContext(ctx, `INSERT INTO calls (call_sid, decision, status, created_at, updated_at) VALUES ($1, 'accept', 'in-progress', $2, $2)`, confCaller, ms); err != nil {
			t.Fatal(err)
		}
		if known, ended, err := s.CallState(ctx, confCaller); err != nil || !known || ended {
			t.Fatalf("live call: %v %v %v", known, ended, err)
		}
		if _, err := db.SQL.ExecContext(ctx, `INSERT INTO caller_lists (list, number, created_at) VALUES ('blocked', '+15555550199', $1)`, ms); err != nil {
			t.Fatal(err)
		}
		if b, err := db.Callers().Blocked(ctx, "+15555550199"); err != nil || !b {
			t.Fatalf("Blocked = %v, %v", b, err)
		}
		if b, err := db.Callers().Blocked(ctx, "+15555550100"); err != nil || b {
			t.Fatalf("Blocked(other) = %v, %v", b, err)
		}
	})
}
