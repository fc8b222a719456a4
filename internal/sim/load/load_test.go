package load

import (
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/fake"
)

func TestSummarize(t *testing.T) {
	us := make([]uint32, 0, 100)
	for i := 100; i >= 1; i-- {
		us = append(us, uint32(i*1000))
	}
	l := summarize(us)
	if l.N != 100 || l.P50 != 50*time.Millisecond || l.P99 != 99*time.Millisecond || l.Max != 100*time.Millisecond {
		t.Fatalf("summarize = %+v", l)
	}
	if got := summarize(nil); got.N != 0 {
		t.Fatalf("summarize(nil) = %+v", got)
	}
}

func TestProbeSeqRoundTrip(t *testing.T) {
	r := &recorder{clk: clock{base: time.Now()}}
	c := &loadCall{idx: 7, upRecv: make([]uint32, 10)}
	r.calls = make([]*loadCall, 8)
	r.calls[7] = c
	frame := fake.EncodeProbeFrame(probeSeq(7, 3))
	r.onAppended(nil, append(frame, fake.EncodeProbeFrame(probeSeq(7, 4))...), time.Now())
	r.onAppended(nil, frame, time.Now())
	if c.upRecv[3] == 0 || c.upRecv[4] == 0 || c.upDup != 1 || c.upRecvN.Load() != 2 {
		t.Fatalf("frames 3 and 4 = %d %d, dup %d", c.upRecv[3], c.upRecv[4], c.upDup)
	}
	if c.sess.Load() == nil {
		t.Fatal("call not linked to its model session")
	}
}
