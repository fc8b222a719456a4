package scenario

import (
	"sync"
	"sync/atomic"

	"github.com/voiceagent/voiceagent/internal/fake"
)

// talker streams the caller's side of a call as Twilio does: a 20 ms
// frame every 20 ms for as long as the call lasts, silence unless the
// caller has been told to speak.
type talker struct {
	c      *fake.MediaClient
	speech atomic.Int64 // speech frames still to send
	stop   chan struct{}
	wg     sync.WaitGroup
}

// startTalking starts the caller's frame loop on a RealTime media client.
func startTalking(c *fake.MediaClient) *talker {
	t := &talker{c: c, stop: make(chan struct{})}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		silence, speech := fake.SilenceFrame(), fake.SpeechFrame()
		for {
			select {
			case <-t.stop:
				return
			default:
			}
			frame := silence
			if t.speech.Load() > 0 {
				t.speech.Add(-1)
				frame = speech
			}
			if err := c.SendMedia(frame); err != nil {
				return
			}
		}
	}()
	return t
}

// say makes the caller talk for n frames (n x 20 ms).
func (t *talker) say(n int) { t.speech.Add(int64(n)) }

// hangUp stops the frames and sends stop, as Twilio does when the caller
// hangs up.
func (t *talker) hangUp() {
	t.halt()
	_ = t.c.Stop()
}

// halt stops the frame loop only.
func (t *talker) halt() {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	t.wg.Wait()
}
