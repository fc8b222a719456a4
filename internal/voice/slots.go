package voice

import (
	"context"

	"github.com/voiceagent/voiceagent/internal/audit"
)

// ClaimStreamSlot is called when a call's media stream is about to start,
// after its token was redeemed. The slot taken at the decision is freed as
// stale after pendingSlotTTL by the SlotSweeper, so a call that waited
// longer may have lost it: it is re-admitted when a slot is free, and
// otherwise refused (false) and its record ended, so a stream never runs
// without a slot and /api/calls?status=active lists exactly the streams
// that run.
func (s *Service) ClaimStreamSlot(ctx context.Context, callSID string) (bool, error) {
	now := s.now()
	capacity := &Capacity{Max: s.settings.MaxConcurrent}
	ok, err := s.calls.ClaimStreamSlot(ctx, callSID, capacity, now)
	if err != nil || ok {
		return ok, err
	}
	if _, err := s.EndCall(ctx, CallEnd{CallSID: callSID, Reason: EndRefused, By: "system", At: now, Detail: ReasonCapacity}); err != nil {
		s.log.Warn("ending the record of a refused stream failed", "call_sid", callSID, "err", err)
	}
	if s.audit != nil {
		s.audit.Record(audit.Event{Type: audit.TypeCallDecision, Severity: audit.Warning, Actor: "system", CallSID: callSID,
			Detail: map[string]any{"decision": "stream_refused", "reason": ReasonCapacity}})
	}
	return false, nil
}
