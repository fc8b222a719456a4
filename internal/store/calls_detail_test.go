package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/calllog"
	"github.com/voiceagent/voiceagent/internal/privacy"
	"github.com/voiceagent/voiceagent/internal/relay"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

func i64(n int64) *int64 { return &n }

// TestCallDetail: a call's details hold its record, transcript lines in
// order, tool calls and measurements as saved; an unknown call is
// NotFound; a second save keeps the first measurements.
func TestCallDetail(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		sid := fmt.Sprintf("CA%032x", 7)
		insertCall(t, db, sid, "completed", false, base, true)
		exec(t, db, `UPDATE calls SET agent_id = 'agt_0123456789abcdef01234567', end_reason = 'agent_ended', answered_at = $1 WHERE call_sid = $2`,
			store.Millis(base.Add(time.Second)), sid)
		if err := db.Transcripts().InsertTranscripts(ctx, []relay.TranscriptLine{
			{CallSID: sid, Role: relay.RoleAgent, Text: "Hello", Time: base.Add(2 * time.Second)},
			{CallSID: sid, Role: relay.RoleCaller, Text: "Call +14155550123", Time: base.Add(3 * time.Second)},
		}); err != nil {
			t.Fatal(err)
		}
		st := calllog.Stats{CallSID: sid, RecordedAt: base.Add(time.Minute), Responses: 3,
			Latency: calllog.Latency{FirstAudioMs: i64(420), ResponseP50Ms: i64(610), ResponseMaxMs: i64(900)},
			Usage:   calllog.Usage{InputTokens: 1200, OutputTokens: 340},
			Tools: []calllog.Tool{
				{Name: "lookup_contact", Outcome: calllog.ToolOK, DurationMs: 12, At: base.Add(4 * time.Second)},
				{Name: "forward_call", Outcome: calllog.ToolRefused, DurationMs: 1, At: base.Add(5 * time.Second)},
				{Name: "dial_14155550123", Outcome: calllog.ToolRefused, DurationMs: 0, At: base.Add(6 * time.Second)},
			}}
		if err := db.CallStats().SaveCallStats(ctx, st); err != nil {
			t.Fatal(err)
		}
		st.Latency.FirstAudioMs = i64(1)
		st.Tools = nil
		if err := db.CallStats().SaveCallStats(ctx, st); err != nil {
			t.Fatalf("second save: %v", err)
		}

		d, err := calllog.GetDetail(ctx, db.CallList(), sid, true)
		if err != nil {
			t.Fatal(err)
		}
		if d.AgentID != "agt_0123456789abcdef01234567" || d.Direction != "inbound" || d.Decision.Result != "accept" || d.Decision.Rule != nil ||
			d.EndReason == nil || *d.EndReason != "agent_ended" || d.AnsweredAt == nil || d.EndedAt == nil ||
			d.DurationSeconds == nil || *d.DurationSeconds != 42 || d.From != "+14155550123" {
			t.Fatalf("detail = %+v", d)
		}
		if len(d.Transcript) != 2 || d.Transcript[0].Speaker != "agent" || d.Transcript[1].Text != "Call +14155550123" || !d.Transcript[1].At.Equal(base.Add(3*time.Second)) {
			t.Fatalf("transcript = %+v", d.Transcript)
		}
		if len(d.Tools) != 3 || d.Tools[0] != st0(base) || d.Tools[1].Outcome != "refused" || d.Tools[2].Name != "dial_14155550123" {
			t.Fatalf("tools = %+v", d.Tools)
		}
		if *d.Latency.FirstAudioMs != 420 || *d.Latency.ResponseP50Ms != 610 || *d.Latency.ResponseMaxMs != 900 || d.Usage != (calllog.Usage{InputTokens: 1200, OutputTokens: 340}) {
			t.Fatalf("latency %+v usage %+v", d.Latency, d.Usage)
		}
		masked, err := calllog.GetDetail(ctx, db.CallList(), sid, false)
		if err != nil {
			t.Fatal(err)
		}
		if masked.From == d.From || masked.Transcript[1].Text == d.Transcript[1].Text || masked.Tools[2].Name == d.Tools[2].Name {
			t.Fatalf("numbers not masked: %q, %q, %q", masked.From, masked.Transcript[1].Text, masked.Tools[2].Name)
		}
		if d.Tools[2].Name != "dial_14155550123" {
			t.Fatal("masking changed the unmasked detail it was made from")
		}

		if _, err := calllog.GetDetail(ctx, db.CallList(), fmt.Sprintf("CA%032x", 8), true); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("unknown call: %v, want not found", err)
		}
		// A call without measurements: nulls and empty lists, not errors.
		other := fmt.Sprintf("CA%032x", 9)
		insertCall(t, db, other, "in-progress", true, base, false)
		d, err = calllog.GetDetail(ctx, db.CallList(), other, true)
		if err != nil || d.Latency.FirstAudioMs != nil || d.Tools == nil || len(d.Tools) != 0 || d.Transcript == nil || d.EndReason != nil || d.AgentID != "default" {
			t.Fatalf("live call detail = %+v (%v)", d, err)
		}
	})
}

func st0(base time.Time) calllog.Tool {
	return calllog.Tool{Name: "lookup_contact", Outcome: calllog.ToolOK, DurationMs: 12, At: base.Add(4 * time.Second)}
}

// TestListCallsFilters: direction, agent and the since/until window
// select calls, together with the cursor; listed calls carry their
// latencies.
func TestListCallsFilters(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		for i := 0; i < 6; i++ {
			sid := fmt.Sprintf("CA%032x", i+1)
			insertCall(t, db, sid, "completed", false, base.Add(time.Duration(i)*time.Minute), true)
			if i%2 == 1 {
				exec(t, db, `UPDATE calls SET direction = 'outbound', agent_id = 'agt_0123456789abcdef01234567' WHERE call_sid = $1`, sid)
			}
		}
		if err := db.CallStats().SaveCallStats(ctx, calllog.Stats{CallSID: fmt.Sprintf("CA%032x", 1), RecordedAt: base,
			Latency: calllog.Latency{FirstAudioMs: i64(300), ResponseP50Ms: i64(500)}}); err != nil {
			t.Fatal(err)
		}
		list := db.CallList()
		count := func(f calllog.Filter) []calllog.Summary {
			t.Helper()
			f.Limit = 100
			got, err := list.ListCalls(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if n := len(count(calllog.Filter{Direction: "outbound"})); n != 3 {
			t.Fatalf("outbound = %d, want 3", n)
		}
		if n := len(count(calllog.Filter{Direction: "inbound", AgentID: "default"})); n != 3 {
			t.Fatalf("inbound default-agent calls = %d, want 3", n)
		}
		if n := len(count(calllog.Filter{AgentID: "agt_0123456789abcdef01234567"})); n != 3 {
			t.Fatalf("agent's calls = %d, want 3", n)
		}
		// since inclusive, until exclusive: minutes 2, 3 and 4.
		got := count(calllog.Filter{Since: base.Add(2 * time.Minute), Until: base.Add(5 * time.Minute)})
		if len(got) != 3 || got[0].CallSID != fmt.Sprintf("CA%032x", 5) || got[2].CallSID != fmt.Sprintf("CA%032x", 3) {
			t.Fatalf("window = %+v", got)
		}
		// The cursor within a filter.
		page, err := list.ListCalls(ctx, calllog.Filter{Direction: "outbound", Limit: 2})
		if err != nil || len(page) != 2 {
			t.Fatal(page, err)
		}
		rest, err := list.ListCalls(ctx, calllog.Filter{Direction: "outbound", Limit: 2, After: &calllog.Cursor{CreatedAt: page[1].CreatedAt, CallSID: page[1].CallSID}})
		if err != nil || len(rest) != 1 || rest[0].CallSID != fmt.Sprintf("CA%032x", 2) {
			t.Fatalf("second page = %+v (%v)", rest, err)
		}
		first := count(calllog.Filter{Until: base.Add(time.Minute)})
		if len(first) != 1 || first[0].FirstAudioMs == nil || *first[0].FirstAudioMs != 300 || *first[0].ResponseP50Ms != 500 || first[0].AgentID != "default" || first[0].Direction != "inbound" {
			t.Fatalf("listed call = %+v", first)
		}
	})
}

// TestEraseNumberErasesCallDetails: an erasure deletes the tool calls and
// measurements of the number's calls (and lists them in the export
// first), and leaves other calls' alone.
func TestEraseNumberErasesCallDetails(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		exec(t, db, `INSERT INTO calls (call_sid, from_number, to_number, decision, created_at, updated_at) VALUES ($1, $2, '+15005550001', 'accept', 1, 1)`, eraseCallSID, eraseSubject)
		otherSID := fmt.Sprintf("CA%032x", 3)
		insertCall(t, db, otherSID, "completed", false, base, true)
		for _, sid := range []string{eraseCallSID, otherSID} {
			if err := db.CallStats().SaveCallStats(ctx, calllog.Stats{CallSID: sid, RecordedAt: base, Latency: calllog.Latency{FirstAudioMs: i64(5)},
				Tools: []calllog.Tool{{Name: "end_call", Outcome: calllog.ToolOK, DurationMs: 1, At: base}}}); err != nil {
				t.Fatal(err)
			}
		}
		ex, err := db.Privacy().ExportNumber(ctx, eraseSubject)
		if err != nil {
			t.Fatal(err)
		}
		if len(ex.CallDetails) != 2 {
			t.Fatalf("exported call details = %v, want the tool row and the metrics row", ex.CallDetails)
		}
		counts, err := db.Privacy().EraseNumber(ctx, eraseSubject, "erased:h")
		if err != nil {
			t.Fatal(err)
		}
		if counts[privacy.KindCallDetails] != 2 {
			t.Fatalf("counts = %v, want 2 call-detail rows", counts)
		}
		if n := rowCount(t, db, `SELECT COUNT(*) FROM call_tools WHERE call_sid = $1`, eraseCallSID) + rowCount(t, db, `SELECT COUNT(*) FROM call_metrics WHERE call_sid = $1`, eraseCallSID); n != 0 {
			t.Fatalf("%d call-detail rows of the erased number left", n)
		}
		if n := rowCount(t, db, `SELECT COUNT(*) FROM call_tools WHERE call_sid = $1`, otherSID) + rowCount(t, db, `SELECT COUNT(*) FROM call_metrics WHERE call_sid = $1`, otherSID); n != 2 {
			t.Fatalf("other call's rows = %d, want 2", n)
		}
	})
}
