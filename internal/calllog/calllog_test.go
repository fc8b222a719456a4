package calllog

import (
	"context"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

type oneCall struct {
	d     Detail
	asked int
}

func (o *oneCall) CallDetail(_ context.Context, callSID string) (Detail, error) {
	o.asked++
	if callSID != o.d.CallSID {
		return Detail{}, apperr.New(apperr.NotFound, "call not found")
	}
	return o.d, nil
}

// TestGetDetail: a malformed CallSid never reaches the store; the detail
// gets empty lists, the default agent's name and a duration from its
// times when Twilio reported none.
func TestGetDetail(t *testing.T) {
	received := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	answered, ended := received.Add(5*time.Second), received.Add(65*time.Second)
	st := &oneCall{d: Detail{CallSID: "CA0123456789abcdef0123456789abcdef", From: "+14155550123", ReceivedAt: received, AnsweredAt: &answered, EndedAt: &ended}}
	for _, sid := range []string{"", "CA123", "ca0123456789abcdef0123456789abcdef", "CA0123456789abcdef0123456789abcdeg", "CA0123456789abcdef0123456789abcdef0"} {
		if _, err := GetDetail(context.Background(), st, sid, false); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("%q: %v, want invalid", sid, err)
		}
	}
	if st.asked != 0 {
		t.Fatal("a malformed CallSid reached the store")
	}
	d, err := GetDetail(context.Background(), st, st.d.CallSID, false)
	if err != nil {
		t.Fatal(err)
	}
	if d.Transcript == nil || d.Tools == nil || d.AgentID != "default" || d.DurationSeconds == nil || *d.DurationSeconds != 60 || d.From == "+14155550123" {
		t.Fatalf("detail = %+v", d)
	}
	if _, err := GetDetail(context.Background(), st, "CA0123456789abcdef0123456789abcdee", false); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown call: %v", err)
	}
}

func TestPercentile50(t *testing.T) {
	if Percentile50(nil) != nil {
		t.Fatal("median of nothing")
	}
	for _, c := range []struct {
		in   []int64
		want int64
	}{{[]int64{7}, 7}, {[]int64{9, 1}, 1}, {[]int64{5, 1, 9}, 5}, {[]int64{4, 1, 3, 2}, 2}} {
		if got := *Percentile50(c.in); got != c.want {
			t.Fatalf("median of %v = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestFilterValidate(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, f := range []Filter{
		{Limit: 0}, {Limit: MaxLimit + 1}, {Limit: 1, Direction: "both"}, {Limit: 1, AgentID: "agt_"},
		{Limit: 1, Since: at, Until: at}, {Limit: 1, Status: "Completed"},
	} {
		if err := f.Validate(); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("%+v: %v, want invalid", f, err)
		}
	}
	if err := (Filter{Limit: 1, Direction: "outbound", AgentID: "agt_0123456789abcdef01234567", Since: at, Until: at.Add(time.Millisecond)}).Validate(); err != nil {
		t.Fatal(err)
	}
}
