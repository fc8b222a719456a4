package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// buildVoice builds the inbound-call service, publishing live events to
// pub (nil: none), and seeds the caller lists from CALLER_BLACKLIST /
// CALLER_WHITELIST.
func (a *App) buildVoice(ctx context.Context, pub events.Publisher) error {
	cfg := a.Config
	links := voice.Links{Accept: "/voice/accept"}
	if u := cfg.PublicURL; u != nil {
		base := u.Host + strings.TrimRight(u.EscapedPath(), "/")
		links.Accept = u.Scheme + "://" + base + "/voice/accept"
		if u.Scheme == "https" {
			links.StreamBase = "wss://" + base + "/media-stream/"
		}
	}
	if pub == nil {
		pub = events.Discard{}
	}
	deps := voice.Deps{
		Calls:   a.DB.Calls(),
		Tokens:  a.DB.Calls(),
		Lists:   a.DB.Callers(),
		Audit:   a.Audit,
		Log:     a.Log,
		Events:  pub,
		Prewarm: a.Relay,
		Records: a.records,
		OnDecision: func(d voice.Decision, reason string) {
			a.Metrics.CallsByDecision.WithLabelValues(string(d), reason).Inc()
		},
	}
	if a.Twilio != nil {
		deps.Names = a.Twilio
	}
	if a.Agents != nil {
		deps.Numbers = a.Agents
	}
	a.Voice = voice.New(deps, voice.Settings{
		PhoneNumber:      cfg.TwilioPhoneNumber,
		BlockedCountries: cfg.BlockedCountries,
		CallerNamePolicy: cfg.CallerNamePolicy,
		MaxConcurrent:    cfg.MaxConcurrentCalls,
		MaxCallDuration:  cfg.MaxCallDuration,
		Links:            links,
	})
	if err := a.Voice.SyncLists(ctx, cfg.CallerBlacklist, cfg.CallerWhitelist); err != nil {
		return fmt.Errorf("caller lists: %w", err)
	}
	a.startSlotSweeper(a.Voice.SlotSweeper(0, !cfg.Production()))
	return nil
}

// startSlotSweeper runs the stale-slot sweep in the background until
// Close, so admissions at the cap read the counter only.
func (a *App) startSlotSweeper(sw *voice.SlotSweeper) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sw.Run(ctx)
	}()
	a.closers = append(a.closers, func() { cancel(); <-done })
}
