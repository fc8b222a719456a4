package voice

import (
	"context"
	"log/slog"
	"time"

	"github.com/voiceagent/voiceagent/internal/panics"
)

// SlotSweepEvery is how often the server frees stale capacity slots. A
// stale slot counts against MAX_CONCURRENT_CALLS until the next sweep, so
// at most this much longer than its time-to-live.
const SlotSweepEvery = 5 * time.Second

// SlotStore frees stale capacity slots (the CallStore does).
type SlotStore interface {
	// FreeStaleSlots frees the slots of calls created at or before
	// pendingBefore that never started a stream and of calls whose stream
	// started at or before liveBefore; it returns how many it freed.
	FreeStaleSlots(ctx context.Context, pendingBefore, liveBefore time.Time) (int64, error)
}

// SweeperConfig configures a SlotSweeper.
type SweeperConfig struct {
	Every           time.Duration // 0: SlotSweepEvery
	MaxCallDuration time.Duration // MAX_CALL_DURATION_SEC (0: 30 minutes, as Settings)
	Log             *slog.Logger
	PanicStacks     bool // log a contained panic's stack (development only)
}

// SlotSweeper frees capacity slots that no status callback will free: a
// call accepted but never streamed (after pendingSlotTTL), a stream that
// outlived the longest call by a minute. It runs in the background so that
// an admission at the cap answers busy from the counter alone, as cheaply
// as under it: the sweep costs one scan of the live calls per
// interval instead of one per admission batch at the cap.
type SlotSweeper struct {
	store      SlotStore
	every      time.Duration
	liveTTL    time.Duration
	log        *slog.Logger
	stacks     bool
	now        func() time.Time
	sweepLimit time.Duration
}

// NewSlotSweeper returns a sweeper over store; Run starts it.
func NewSlotSweeper(store SlotStore, c SweeperConfig) *SlotSweeper {
	if c.Every <= 0 {
		c.Every = SlotSweepEvery
	}
	if c.MaxCallDuration <= 0 {
		c.MaxCallDuration = 30 * time.Minute
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return &SlotSweeper{
		store: store, every: c.Every, liveTTL: c.MaxCallDuration + time.Minute,
		log: c.Log.With("component", "slots"), stacks: c.PanicStacks, now: time.Now,
		sweepLimit: 30 * time.Second,
	}
}

// Run sweeps every interval until ctx ends. A failed sweep is logged and
// retried at the next tick; a panic in one is contained and logged, and
// the loop goes on (a dead sweeper would leak slots until the cap is
// reached for good).
func (w *SlotSweeper) Run(ctx context.Context) {
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.contained(ctx)
		}
	}
}

// contained runs one sweep with its panic contained.
func (w *SlotSweeper) contained(ctx context.Context) {
	defer func() {
		if v := recover(); v != nil {
			panics.Log(w.log, "panic contained", "slots", v, w.stacks)
		}
	}()
	if _, err := w.SweepOnce(ctx); err != nil && ctx.Err() == nil {
		w.log.Warn("freeing stale capacity slots failed; retried at the next sweep", "err", err)
	}
}

// SweepOnce frees the stale slots now and returns how many it freed.
func (w *SlotSweeper) SweepOnce(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, w.sweepLimit)
	defer cancel()
	now := w.now()
	n, err := w.store.FreeStaleSlots(ctx, now.Add(-pendingSlotTTL), now.Add(-w.liveTTL))
	if n > 0 {
		w.log.Info("stale capacity slots freed", "slots", n)
	}
	return n, err
}

// SlotSweeper returns the sweeper of this service's capacity slots (its
// call store, its MaxCallDuration, its log); every 0 is SlotSweepEvery.
func (s *Service) SlotSweeper(every time.Duration, panicStacks bool) *SlotSweeper {
	return NewSlotSweeper(s.calls, SweeperConfig{Every: every, MaxCallDuration: s.settings.MaxCallDuration, Log: s.log, PanicStacks: panicStacks})
}
