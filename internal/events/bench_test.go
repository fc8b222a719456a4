package events_test

import (
	"fmt"
	"testing"

	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/logging"
)

// BenchmarkPublish measures what a publisher (the relay, per transcript
// line) pays to fan one event out to n draining subscribers.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprint(n, "subscribers"), func(b *testing.B) {
			bus := events.NewBus(logging.Discard(), events.Options{QueueSize: 1 << 16})
			defer bus.Close()
			for range n {
				s := bus.Subscribe()
				go func() {
					for {
						select {
						case <-s.Events():
						case <-s.Gone():
							return
						}
					}
				}()
			}
			ev := events.Event{Type: events.TranscriptLine, CallSID: sidA, Data: map[string]any{"role": "agent", "text": "hello"}}
			b.ReportAllocs()
			for b.Loop() {
				bus.Publish(ev)
			}
		})
	}
}
