package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/transcript"
)

func TestTranscripts(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := db.Transcripts()
		const call1, call2 = "CA00000000000000000000000000000001", "CA00000000000000000000000000000002"
		old := time.Date(2020, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
		now := time.Now().UTC().Truncate(time.Millisecond)
		lines := []transcript.Line{
			{CallSID: call1, Role: transcript.RoleAgent, Text: "Hello, how can I help?", Time: old},
			{CallSID: call1, Role: transcript.RoleCaller, Text: "Connect me with Alice — it's urgent.", Time: now},
			{CallSID: call2, Role: transcript.RoleCaller, Text: "Hi", Time: now},
		}
		if err := ts.InsertTranscripts(ctx, lines); err != nil {
			t.Fatalf("insert: %v", err)
		}
		got, err := ts.ListTranscripts(ctx, call1)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		if len(got) != 2 {
			t.Fatalf("lines = %d, want 2", len(got))
		}
		for i := range got {
			if got[i] != lines[i] {
				t.Fatalf("line %d = %+v, want %+v", i, got[i], lines[i])
			}
		}

		// A role outside the schema's check is refused: that line is
		// dropped and counted, the rest of its batch kept.
		bad := []transcript.Line{{CallSID: call2, Role: transcript.RoleAgent, Text: "ok", Time: now}, {CallSID: call2, Role: "operator", Text: "x", Time: now}}
		var dropped transcript.DroppedLinesError
		if err := ts.InsertTranscripts(ctx, bad); !errors.As(err, &dropped) || dropped.N != 1 {
			t.Fatalf("insert with a bad role = %v, want one line dropped", err)
		}
		if got, _ := ts.ListTranscripts(ctx, call2); len(got) != 2 {
			t.Fatalf("call 2 lines = %d, want 2 (its first line and the good line of the bad batch)", len(got))
		}
		n0, _ := ts.DeleteTranscriptsForCall(ctx, call2)
		if n0 != 2 {
			t.Fatalf("erase call 2 = %d, want 2", n0)
		}

		n, err := ts.DeleteTranscriptsBefore(ctx, now.Add(-time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("retention delete = %d, %v; want 1", n, err)
		}
		n, err = ts.DeleteTranscriptsForCall(ctx, call1)
		if err != nil || n != 1 {
			t.Fatalf("erase call = %d, %v; want 1", n, err)
		}
		if got, _ := ts.ListTranscripts(ctx, call1); len(got) != 0 {
			t.Fatalf("lines left after erasure: %v", got)
		}
	})
}

// Finding 8: lines of many calls share a batch; one line PostgreSQL
// refuses (a NUL byte) or the schema refuses (a bad role) costs only
// itself, never the bystanders' lines.
func TestTranscriptsBadLineAmongBystanders(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := db.Transcripts()
		now := time.Now().UTC().Truncate(time.Millisecond)
		bystanders := []string{"CA00000000000000000000000000000011", "CA00000000000000000000000000000012", "CA00000000000000000000000000000013",
			"CA00000000000000000000000000000014", "CA00000000000000000000000000000015", "CA00000000000000000000000000000016"}
		const hostile = "CA000000000000000000000000000000ff"
		var batch []transcript.Line
		for i, sid := range bystanders {
			batch = append(batch, transcript.Line{CallSID: sid, Role: transcript.RoleCaller, Text: "Hello, this is a bystander.", Time: now})
			if i == 2 {
				batch = append(batch, transcript.Line{CallSID: hostile, Role: transcript.RoleAgent, Text: "bad\x00line", Time: now})
			}
		}
		batch = append(batch, transcript.Line{CallSID: hostile, Role: "operator", Text: "bad role", Time: now})
		err := ts.InsertTranscripts(ctx, batch)
		var dropped transcript.DroppedLinesError
		if !errors.As(err, &dropped) {
			t.Fatalf("insert = %v, want a DroppedLinesError", err)
		}
		want := 1 // the bad role
		if db.Engine == store.Postgres {
			want = 2 // and the NUL line
		}
		if dropped.N != want {
			t.Fatalf("dropped = %d, want %d", dropped.N, want)
		}
		for _, sid := range bystanders {
			if got, err := ts.ListTranscripts(ctx, sid); err != nil || len(got) != 1 {
				t.Fatalf("bystander %s lines = %d, %v; want 1", sid, len(got), err)
			}
		}
	})
}
