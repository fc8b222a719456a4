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
