package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// ConfirmOutbound gives an outbound call's record its Twilio CallSid once
// Twilio has created the call, and writes its call.started webhook event
// in the same transaction (none was written under the provisional
// CallSid). Nothing else refers to the provisional CallSid yet (no token,
// transcript or conference exists before the callee answers).
func (s *CallStore) ConfirmOutbound(ctx context.Context, provisional, callSID, status string, at time.Time) error {
	var outboxed bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE calls SET call_sid = $1, status = $2, updated_at = $3 WHERE call_sid = $4 AND direction = 'outbound'`,
			callSID, status, Millis(at), provisional)
		if err != nil {
			return translate(err, "call")
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.NotFound, "call not found")
		}
		c, err := s.findInTx(ctx, tx, callSID, "")
		if err != nil {
			return err
		}
		typ, payload := callEvent(c)
		outboxed, err = s.db.enqueue(ctx, tx, typ, c.CallSID, payload, c.CreatedAt)
		return err
	})
	if err == nil && outboxed {
		s.db.outboxWritten()
	}
	return err
}

// ForgetOutbound deletes the record of an outbound call that was never
// placed (the cap was full, or Twilio refused it); its slot goes with it.
func (s *CallStore) ForgetOutbound(ctx context.Context, provisional string) error {
	_, err := s.db.write(ctx, `DELETE FROM calls WHERE call_sid = $1 AND direction = 'outbound'`, provisional)
	return translate(err, "call")
}

// WithdrawEndReason takes back the reason recorded for a live call's
// coming end (voice.EndingCall) when the hang-up it announced was refused:
// the call lives on and ends later for another reason.
func (s *CallStore) WithdrawEndReason(ctx context.Context, callSID string, reason voice.EndReason) error {
	_, err := s.db.write(ctx, `UPDATE calls SET end_reason = '' WHERE call_sid = $1 AND ended_at IS NULL AND end_reason = $2`, callSID, string(reason))
	return translate(err, "call")
}
