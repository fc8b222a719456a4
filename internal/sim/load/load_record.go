package load

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/voiceagent/voiceagent/internal/fake"
)

// Probe sequence numbers carry the call's index in the top bits and the
// frame number in the low bits, so the fake model can tell which call a
// caller frame belongs to.
const (
	frameBits = 20
	frameMask = 1<<frameBits - 1
	// MaxLoadCalls is how many calls one run can tell apart.
	MaxLoadCalls = 1<<(32-frameBits) - 1
)

func probeSeq(call, frame int) uint32 { return uint32(call)<<frameBits | uint32(frame) }

// loadCall is the record of one call of a load run.
type loadCall struct {
	idx   int
	early bool // hangs up right after connecting

	// Written by the call's goroutine.
	sent      int // caller frames sent
	connected bool
	stopAt    uint32
	err       error
	stage     string

	upRecvN atomic.Int64
	sess    atomic.Pointer[sessRec]

	mu     sync.Mutex
	upSend []uint32 // by frame number, when sent
	upRecv []uint32 // by frame number, when the model got it
	upDup  int
	down   []downFrame // model frames the caller received
}

type downFrame struct{ seq, at uint32 }

// sessRec is the record of one model session.
type sessRec struct {
	mu   sync.Mutex
	call *loadCall
	send []uint32 // by probe number, when the model wrote it
}

// recorder receives the probe callbacks of the fake model and the media
// clients.
type recorder struct {
	clk      clock
	calls    []*loadCall
	sessions sync.Map // *fake.RealtimeSession -> *sessRec
	strays   atomic.Int64
}

func (r *recorder) sessRec(s *fake.RealtimeSession) *sessRec {
	if v, ok := r.sessions.Load(s); ok {
		return v.(*sessRec)
	}
	v, _ := r.sessions.LoadOrStore(s, &sessRec{})
	return v.(*sessRec)
}

// onAppended is the fake model's OnAudioAppended: caller frames arriving.
func (r *recorder) onAppended(s *fake.RealtimeSession, audio []byte, at time.Time) {
	st := r.clk.stamp(at)
	var rec *sessRec
	for off := 0; off+fake.FrameBytes <= len(audio); off += fake.FrameBytes {
		seq, ok := fake.DecodeProbeFrame(audio[off : off+fake.FrameBytes])
		if !ok {
			continue
		}
		i, k := int(seq>>frameBits), int(seq&frameMask)
		if i >= len(r.calls) {
			r.strays.Add(1)
			continue
		}
		c := r.calls[i]
		c.mu.Lock()
		switch {
		case k >= len(c.upRecv):
			c.upDup++
		case c.upRecv[k] != 0:
			c.upDup++
		default:
			c.upRecv[k] = st
			c.upRecvN.Add(1)
		}
		c.mu.Unlock()
		if c.sess.Load() == nil {
			if rec == nil {
				rec = r.sessRec(s)
			}
			rec.mu.Lock()
			if rec.call == nil {
				rec.call = c
			}
			rec.mu.Unlock()
			c.sess.CompareAndSwap(nil, rec)
		}
	}
}

// onSent is the fake model's OnAudioSent: model frames leaving.
func (r *recorder) onSent(s *fake.RealtimeSession, audio []byte, at time.Time) {
	st := r.clk.stamp(at)
	rec := r.sessRec(s)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for off := 0; off+fake.FrameBytes <= len(audio); off += fake.FrameBytes {
		seq, ok := fake.DecodeProbeFrame(audio[off : off+fake.FrameBytes])
		if !ok || seq > 1<<24 {
			continue
		}
		for int(seq) >= len(rec.send) {
			rec.send = append(rec.send, make([]uint32, max(len(rec.send), 256))...)
		}
		rec.send[seq] = st
	}
}

// onMedia returns the media client's OnMedia for call c: model frames
// arriving at the caller.
func (r *recorder) onMedia(c *loadCall) func([]byte, time.Time) {
	return func(payload []byte, at time.Time) {
		st := r.clk.stamp(at)
		c.mu.Lock()
		defer c.mu.Unlock()
		for off := 0; off+fake.FrameBytes <= len(payload); off += fake.FrameBytes {
			if seq, ok := fake.DecodeProbeFrame(payload[off : off+fake.FrameBytes]); ok {
				c.down = append(c.down, downFrame{seq: seq, at: st})
			}
		}
	}
}
