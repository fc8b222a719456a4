package relay

import (
	"context"
	"sync"
	"time"
)

// warmSession is a model socket opened when /voice/accept answered, held
// for PREWARM_HOLD until the call's stream arrives on this instance. A
// stream that lands elsewhere opens its own socket there; this one closes
// when its hold ends.
type warmSession struct {
	ready chan struct{} // closed when the dial finished
	taken chan struct{} // closed when a call claimed it

	mu        sync.Mutex
	sess      *modelSession
	agent     *Profile // the agent the session was configured for
	err       error
	done      bool // dial finished
	claimed   bool // a call took it
	expired   bool // the hold ended first
	abandoned bool // the call that took it ended before the dial finished
}

// Prewarm opens a model session for callSID in the background so the
// agent can speak as soon as the stream starts. It never blocks and does
// nothing when the agent is off, the relay is closing, or as many sessions
// as MAX_CONCURRENT_CALLS are already warm.
func (r *Relay) Prewarm(callSID string) {
	if !r.Enabled() || callSID == "" {
		return
	}
	r.mu.Lock()
	if r.closed || r.warm[callSID] != nil || len(r.warm) >= r.cfg.MaxConcurrentCalls {
		r.mu.Unlock()
		return
	}
	w := &warmSession{ready: make(chan struct{}), taken: make(chan struct{})}
	r.warm[callSID] = w
	r.wg.Add(1)
	r.mu.Unlock()
	r.goContain("prewarm", callSID, func() {
		defer r.wg.Done()
		r.holdWarm(callSID, w)
	})
}

func (r *Relay) holdWarm(callSID string, w *warmSession) {
	agent := r.profileFor(r.ctx, callSID)
	sess, err := r.dialModel(r.ctx, agent)
	w.mu.Lock()
	w.sess, w.agent, w.err, w.done = sess, agent, err, true
	abandoned := w.abandoned
	w.mu.Unlock()
	close(w.ready)
	if err != nil {
		r.m.PrewarmedSessions.WithLabelValues("failed").Inc()
		r.log.Warn("pre-warm of the model session failed", "call_sid", callSID, "err", err)
		r.forgetWarm(callSID, w)
		return
	}
	if abandoned {
		sess.close()
		return
	}
	t := time.NewTimer(r.cfg.PrewarmHold)
	defer t.Stop()
	select {
	case <-w.taken:
		return
	case <-t.C:
	case <-r.ctx.Done():
	}
	r.forgetWarm(callSID, w)
	w.mu.Lock()
	expire := !w.claimed
	w.expired = expire
	w.mu.Unlock()
	if expire {
		sess.close()
		r.m.PrewarmedSessions.WithLabelValues("expired").Inc()
		r.log.Debug("pre-warmed model session expired unused", "call_sid", callSID)
	}
}

func (r *Relay) forgetWarm(callSID string, w *warmSession) {
	r.mu.Lock()
	if r.warm[callSID] == w {
		delete(r.warm, callSID)
	}
	r.mu.Unlock()
}

// takeWarm hands the pre-warmed session of callSID to its call, waiting
// for a dial in progress. It returns nil when there is none (or it failed,
// expired, or ctx ended first, or it was configured for another version
// of the call's agent); the call then dials its own.
func (r *Relay) takeWarm(ctx context.Context, callSID string, agent *Profile) *modelSession {
	r.mu.Lock()
	w := r.warm[callSID]
	delete(r.warm, callSID)
	r.mu.Unlock()
	if w == nil {
		return nil
	}
	w.mu.Lock()
	if w.expired {
		w.mu.Unlock()
		return nil
	}
	w.claimed = true
	w.mu.Unlock()
	close(w.taken)
	select {
	case <-w.ready:
	case <-ctx.Done():
		w.mu.Lock()
		if !w.done {
			w.abandoned = true
			w.mu.Unlock()
			return nil
		}
		w.mu.Unlock()
		if w.sess != nil {
			w.sess.close()
		}
		return nil
	}
	if w.err != nil {
		return nil
	}
	if !sameAgent(w.agent, agent) {
		w.sess.close()
		return nil
	}
	r.m.PrewarmedSessions.WithLabelValues("used").Inc()
	return w.sess
}
