package store

import (
	"context"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// ConfirmOutbound gives an outbound call's record its Twilio CallSid once
// Twilio has created the call. Nothing refers to the provisional CallSid
// yet (no token, transcript or conference exists before the callee
// answers).
func (s *CallStore) ConfirmOutbound(ctx context.Context, provisional, callSID, status string, at time.Time) error {
	res, err := s.db.write(ctx, `UPDATE calls SET call_sid = $1, status = $2, updated_at = $3 WHERE call_sid = $4 AND direction = 'outbound'`,
		callSID, status, Millis(at), provisional)
	if err != nil {
		return translate(err, "call")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.NotFound, "call not found")
	}
	return nil
}

// ForgetOutbound deletes the record of an outbound call that was never
// placed (the cap was full, or Twilio refused it); its slot goes with it.
func (s *CallStore) ForgetOutbound(ctx context.Context, provisional string) error {
	_, err := s.db.write(ctx, `DELETE FROM calls WHERE call_sid = $1 AND direction = 'outbound'`, provisional)
	return translate(err, "call")
}

// EndWithReason records the end of a live call with its reason, unless a
// reason was recorded before (an end in flight keeps its own), and frees
// its slot. ended is false when the call had already ended or was
// transferred.
func (s *CallStore) EndWithReason(ctx context.Context, callSID string, reason voice.EndReason, at time.Time) (bool, error) {
	res, err := s.db.write(ctx, `UPDATE calls SET active = 0, ended_at = $1, updated_at = $1,
  end_reason = CASE WHEN end_reason = '' THEN $2 ELSE end_reason END
WHERE call_sid = $3 AND ended_at IS NULL AND transferred_at IS NULL`, Millis(at), string(reason), callSID)
	if err != nil {
		return false, translate(err, "call")
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// MarkEnding records the reason a live call is about to end for, while
// the hang-up is in flight, so whoever records the end meanwhile keeps
// it; undo takes it back (the hang-up was refused) while the call lives.
func (s *CallStore) MarkEnding(ctx context.Context, callSID string, reason voice.EndReason, undo bool) error {
	q := `UPDATE calls SET end_reason = $1 WHERE call_sid = $2 AND ended_at IS NULL AND end_reason = ''`
	if undo {
		q = `UPDATE calls SET end_reason = '' WHERE call_sid = $2 AND ended_at IS NULL AND end_reason = $1`
	}
	_, err := s.db.write(ctx, q, string(reason), callSID)
	return translate(err, "call")
}
