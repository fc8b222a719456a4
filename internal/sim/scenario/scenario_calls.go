package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/redact"
	"github.com/voiceagent/voiceagent/internal/sim"
)

// liveCall is an answered call with its stream open and the caller's
// frames flowing.
type liveCall struct {
	a     *sim.Attempt
	c     *fake.MediaClient
	t     *talker
	sess  *fake.RealtimeSession
	start time.Time
	ended bool
}

// answer places a call from `from`, expects it answered with a stream,
// opens the stream and finds the model session the server opened for it.
// Scenarios run one at a time, so the next session to connect is this
// call's (the server pre-warms it at /voice/accept).
func answer(ctx context.Context, e *Env, r *Result, from string) (*liveCall, error) {
	before := len(e.Realtime.Sessions())
	a, err := e.Target.Place(ctx, from, e.Target.CalledNumber)
	if a != nil {
		r.CallSID, r.Caller, r.Answer = sim.MaskSID(a.CallSID()), redact.Phone(from), a.Decision()
	}
	if err != nil {
		return nil, err
	}
	if a.Decision() != "stream" {
		return nil, fmt.Errorf("call answered with %q, want a <Connect><Stream>", a.Decision())
	}
	c, err := e.Target.Connect(ctx, a, fake.MediaOptions{RealTime: true})
	if err != nil {
		return nil, fmt.Errorf("media stream: %w", err)
	}
	lc := &liveCall{a: a, c: c, t: startTalking(c), start: time.Now()}
	lc.sess, err = e.Realtime.WaitSession(ctx, before+1)
	if err != nil {
		lc.t.hangUp()
		return nil, fmt.Errorf("no model session opened: %w", err)
	}
	return lc, nil
}

// greeted waits until the agent's greeting has been heard to its end and
// returns how much audio that was.
func (lc *liveCall) greeted(ctx context.Context) (int, error) {
	if err := lc.c.WaitFor(ctx, func() bool { return lc.c.ReceivedBytes() > 0 }); err != nil {
		return 0, fmt.Errorf("no greeting heard: %w", err)
	}
	if err := lc.played(ctx, 1); err != nil {
		return 0, fmt.Errorf("greeting: %w", err)
	}
	return lc.c.ReceivedBytes(), nil
}

// played waits until the model finished n responses and the caller has
// played everything received (every mark echoed).
func (lc *liveCall) played(ctx context.Context, n int) error {
	err := lc.c.WaitFor(ctx, func() bool {
		rs := lc.sess.Responses()
		if len(rs) < n || rs[n-1].Status == "in_progress" || lc.sess.ActiveResponse() != "" {
			return false
		}
		// The model can finish before its audio has crossed the relay:
		// wait until every completed response's audio has arrived.
		generated := 0
		for _, r := range rs[:n] {
			if r.Status == "completed" {
				generated += r.AudioBytes
			}
		}
		return lc.c.ReceivedBytes() >= generated && lc.c.QueuedBytes() == 0 && lc.c.PendingMarks() == 0
	})
	if err != nil {
		return fmt.Errorf("response %d not played to the end (%d bytes heard, %d queued, %d marks pending): %w",
			n, lc.c.ReceivedBytes(), lc.c.QueuedBytes(), lc.c.PendingMarks(), err)
	}
	return nil
}

// cleanup ends a call a failed scenario left behind, so the next
// scenario finds no live call on the server.
func (lc *liveCall) cleanup(ctx context.Context, e *Env) {
	if lc.ended {
		return
	}
	lc.t.hangUp()
	_ = e.Target.Status(context.WithoutCancel(ctx), lc.a.Params, "completed", int(time.Since(lc.start).Seconds()))
}

// hangUp ends the call as the caller, checks the model session is closed
// and reports the end to the server as Twilio's status callback would.
func (lc *liveCall) hangUp(ctx context.Context, e *Env) error {
	lc.ended = true
	lc.t.hangUp()
	var errs []error
	select {
	case <-lc.sess.Done():
	case <-ctx.Done():
		errs = append(errs, errors.New("model session still open after hang-up"))
	}
	if err := e.Target.Status(ctx, lc.a.Params, "completed", int(time.Since(lc.start).Seconds())); err != nil {
		errs = append(errs, fmt.Errorf("status callback: %w", err))
	}
	return errors.Join(errs...)
}

func ms(bytes int) int { return bytes / fake.BytesPerMs }

func runConversation(ctx context.Context, e *Env, r *Result) error {
	lc, err := answer(ctx, e, r, "+15555550111")
	if err != nil {
		return err
	}
	defer lc.cleanup(ctx, e)
	greeting, err := lc.greeted(ctx)
	if err != nil {
		return err
	}
	lc.t.say(25)
	if err := lc.played(ctx, 2); err != nil {
		return fmt.Errorf("no answer to the caller: %w", err)
	}
	answered := lc.c.ReceivedBytes() - greeting
	if answered <= 0 {
		return errors.New("the answer carried no audio")
	}
	// The caller's frames reach the model byte for byte.
	var in bytes.Buffer
	for _, a := range lc.sess.Appended() {
		in.Write(a)
	}
	if !bytes.Contains(in.Bytes(), bytes.Repeat(fake.SpeechFrame(), 5)) {
		return errors.New("the caller's speech did not reach the model unchanged")
	}
	turns := len(lc.sess.Responses())
	if err := lc.hangUp(ctx, e); err != nil {
		return err
	}
	r.Detail = fmt.Sprintf("greeting %d ms, answer %d ms heard; %d ms of caller audio reached the model; %d responses; model closed",
		ms(greeting), ms(answered), lc.sess.InputMs(), turns)
	return nil
}

func runBargeIn(ctx context.Context, e *Env, r *Result) error {
	lc, err := answer(ctx, e, r, "+15555550112")
	if err != nil {
		return err
	}
	defer lc.cleanup(ctx, e)
	greeting, err := lc.greeted(ctx)
	if err != nil {
		return err
	}
	// The answer to the caller's question is long (4 s); the caller talks
	// over it after about a second of playback.
	lc.sess.ScriptNextResponse(fake.ScriptedResponse{Chunks: 40, Transcript: "This is a long answer the caller will interrupt."})
	lc.t.say(25)
	if err := lc.c.WaitFor(ctx, func() bool { return lc.c.PlayedBytes() >= greeting+8000 }); err != nil {
		return fmt.Errorf("the long answer did not play: %w", err)
	}
	lc.t.say(25)
	if err := lc.c.WaitFor(ctx, func() bool { return len(lc.c.Clears()) > 0 && len(lc.sess.Truncates()) > 0 }); err != nil {
		return fmt.Errorf("no barge-in (%d clears, %d truncates): %w", len(lc.c.Clears()), len(lc.sess.Truncates()), err)
	}
	tr := lc.sess.Truncates()[0]
	if tr.AudioEndMs < 900 || tr.AudioEndMs >= tr.GeneratedMs {
		return fmt.Errorf("truncated at %d ms of %d generated, want where playback stood (about 1 s or more)", tr.AudioEndMs, tr.GeneratedMs)
	}
	if len(lc.sess.Errors()) > 0 {
		return fmt.Errorf("the model answered with errors: %v", lc.sess.Errors()[0].Code)
	}
	if err := lc.hangUp(ctx, e); err != nil {
		return err
	}
	r.Detail = fmt.Sprintf("answer truncated at %d ms of %d ms generated; %d clear sent; model closed", tr.AudioEndMs, tr.GeneratedMs, len(lc.c.Clears()))
	return nil
}
