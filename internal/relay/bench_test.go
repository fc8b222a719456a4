package relay

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/metrics"
)

// benchCall is a started call whose socket queues are drained by stand-in
// writers that only return the buffers, so the benchmarks measure the
// relay's own per-frame work: decode, frame, queue, release.
func benchCall(b *testing.B) (*Call, func()) {
	b.Helper()
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"OPENAI_API_KEY": "sk-bench"}[k]
	})
	if err != nil {
		b.Fatal(err)
	}
	r := New(Deps{Log: logging.Discard(), Metrics: metrics.New(nil)}, settingsOf(cfg))
	c := r.newCall(nil, "CA00000000000000000000000000000001", "")
	c.state.startStream("MZ00000000000000000000000000000001")
	c.modelReady.Store(true)
	stop := make(chan struct{})
	done := make(chan struct{}, 2)
	for _, p := range []*peer{c.tw, c.model} {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case it := <-p.queue:
					if it.frames > 0 {
						p.m.frames.Add(float64(it.frames))
						p.m.latency.Observe(time.Since(it.read).Seconds())
					}
					p.done(it)
				case <-stop:
					return
				}
			}
		}()
	}
	return c, func() {
		close(stop)
		<-done
		<-done
		c.cancel()
		r.Close()
	}
}

// BenchmarkCallerFrame is one Twilio media frame in -> one
// input_audio_buffer.append queued for the model.
func BenchmarkCallerFrame(b *testing.B) {
	c, done := benchCall(b)
	defer done()
	h := c.newTwilioHalf()
	payload := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\xff", FrameBytes)))
	msg := []byte(`{"event":"media","sequenceNumber":"4","streamSid":"MZ00000000000000000000000000000001","media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"` + payload + `"}}`)
	b.ReportAllocs()
	b.SetBytes(FrameBytes)
	b.ResetTimer()
	for b.Loop() {
		now := time.Now()
		if err := decodeTwilio(msg, &h.msg); err != nil {
			b.Fatal(err)
		}
		h.onTwilio(&h.msg, now)
	}
}

// BenchmarkModelDelta is one model audio delta (100 ms = 5 frames) in ->
// five 160-byte Twilio media messages and one mark queued. Allocations per
// frame are allocs/op divided by 5.
func BenchmarkModelDelta(b *testing.B) {
	c, done := benchCall(b)
	defer done()
	h := c.newModelHalf()
	delta := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\x7f", 5*FrameBytes)))
	msg := []byte(`{"type":"response.output_audio.delta","event_id":"event_123","response_id":"resp_1","item_id":"item_asst_1","output_index":0,"content_index":0,"delta":"` + delta + `"}`)
	b.ReportAllocs()
	b.SetBytes(5 * FrameBytes)
	b.ResetTimer()
	for b.Loop() {
		now := time.Now()
		if err := decodeModel(msg, &h.ev); err != nil {
			b.Fatal(err)
		}
		h.onModel(&h.ev, now)
		// Twilio echoes the mark, as playback would: the pending list stays short.
		c.state.mu.Lock()
		c.state.pb.ack(c.state.pb.nextMark)
		c.state.mu.Unlock()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*5), "ns/frame")
}

// BenchmarkDecodeTwilioMedia is the decoder alone.
func BenchmarkDecodeTwilioMedia(b *testing.B) {
	payload := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\xff", FrameBytes)))
	msg := []byte(`{"event":"media","sequenceNumber":"4","streamSid":"MZ00000000000000000000000000000001","media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"` + payload + `"}}`)
	var m twilioMsg
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeTwilio(msg, &m); err != nil {
			b.Fatal(err)
		}
	}
}
