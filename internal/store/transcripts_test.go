package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/relay"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

func TestTranscripts(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := db.Transcripts()
		const call1, call2 = "CA00000000000000000000000000000001", "CA00000000000000000000000000000002"
		old := time.Date(2020, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
		now := time.Now().UTC().Truncate(time.Millisecond)
		lines := []relay.TranscriptLine{
			{CallSID: call1, Role: relay.RoleAgent, Text: "Hello, how can I help?", Time: old},
			{CallSID: call1, Role: relay.RoleCaller, Text: "Connect me with Alice — it's urgent.", Time: now},
			{CallSID: call2, Role: relay.RoleCaller, Text: "Hi", Time: now},
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

		// A role outside the schema's check is refused, and nothing of the
		// batch is kept.
		bad := []relay.TranscriptLine{{CallSID: call2, Role: relay.RoleAgent, Text: "ok", Time: now}, {CallSID: call2, Role: "operator", Text: "x", Time: now}}
		if err := ts.InsertTranscripts(ctx, bad); err == nil {
			t.Fatal("a bad role was stored")
		}
		if got, _ := ts.ListTranscripts(ctx, call2); len(got) != 1 {
			t.Fatalf("call 2 lines = %d, want 1 (failed batch rolled back)", len(got))
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
