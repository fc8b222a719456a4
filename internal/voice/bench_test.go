package voice_test

import (
	"context"
	"testing"

	"github.com/voiceagent/voiceagent/internal/voice"
)

// BenchmarkIncoming measures one policy decision with its record stored
// (SQLite in a temp dir).
func BenchmarkIncoming(b *testing.B) {
	svc := newService(b, voice.Deps{}, voice.Settings{MaxConcurrent: 1 << 30})
	ctx := context.Background()
	if err := svc.SyncLists(ctx, []string{"+15555550190"}, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := svc.Incoming(ctx, voice.Inbound{CallSID: sid(i), From: "+15555550100", FromCountry: "US"}, nil, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFinalStatus measures a final status callback ending a live
// call (the write that records the end and its reason), SQLite in a temp
// dir; the calls are admitted outside the timed loop.
func BenchmarkFinalStatus(b *testing.B) {
	svc := newService(b, voice.Deps{}, voice.Settings{MaxConcurrent: 1 << 30})
	ctx := context.Background()
	const n = 20000
	for i := range n {
		if _, err := svc.Incoming(ctx, voice.Inbound{CallSID: sid(i), From: "+15555550100", FromCountry: "US"}, nil, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == n {
			b.Fatal("more iterations than admitted calls; raise n")
		}
		if err := svc.Status(ctx, voice.StatusUpdate{CallSID: sid(i), Status: "completed", Sequence: -1}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
