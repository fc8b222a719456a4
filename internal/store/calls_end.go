package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/voice"
)

// The calls table has one writer, CallStore (calls*.go); the privacy
// erasure's generic delete of a subject's rows is the one exception.
// These are the writes that end a call, hand it over and name its agent.

// EndCall records the end of a live call: its end reason (unless one is
// recorded already: the first end wins), its end time, and its freed
// slot. ended is false when the call had already ended; a transferred
// call lives on in a conference or forward until Twilio's final status
// callback, and the answer is then apperr.Conflict (NotFound for an
// unknown call).
//
// Ending the call writes its call.ended webhook event in the same
// transaction (issue 15; the status callback's end does the same in
// UpdateCallStatus).
func (s *CallStore) EndCall(ctx context.Context, e voice.CallEnd) (ended bool, err error) {
	var n int64
	var wrote bool
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		st, err := s.db.txStmt(ctx, tx, `UPDATE calls SET active = 0, ended_at = $1, updated_at = $1,
  end_reason = CASE WHEN end_reason = '' THEN $2 ELSE end_reason END
WHERE call_sid = $3 AND transferred_at IS NULL AND ended_at IS NULL`)
		if err != nil {
			return err
		}
		res, err := st.ExecContext(ctx, Millis(e.At), string(e.Reason), e.CallSID)
		if err != nil {
			return err
		}
		if n, _ = res.RowsAffected(); n == 1 {
			wrote, err = s.db.enqueueCallEnded(ctx, tx, e.CallSID, e.At)
		}
		return err
	})
	if err != nil {
		return false, translate(err, "call")
	}
	if wrote {
		s.db.outboxWritten()
	}
	if n == 1 {
		return true, nil
	}
	var transferred bool
	if err := s.db.queryRow(ctx, `SELECT transferred_at IS NOT NULL FROM calls WHERE call_sid = $1`, e.CallSID).Scan(&transferred); err != nil {
		return false, translate(err, "call")
	}
	if transferred {
		return false, apperr.New(apperr.Conflict, "the call was transferred")
	}
	return false, nil
}

// SetTransferred marks the call as handed over to a conference or forward
// (on): the end of its media stream no longer ends it, and its end reason
// is 'transferred' unless it already had one (its record still ends with
// Twilio's final status). off takes the mark back after a failed
// hand-over, and with it the 'transferred' reason while the call is live.
func (s *CallStore) SetTransferred(ctx context.Context, callSID string, on bool, at time.Time) error {
	q := `UPDATE calls SET transferred_at = NULL, updated_at = $1,
  end_reason = CASE WHEN end_reason = $2 AND ended_at IS NULL THEN '' ELSE end_reason END
WHERE call_sid = $3`
	if on {
		q = `UPDATE calls SET transferred_at = COALESCE(transferred_at, $1), updated_at = $1,
  end_reason = CASE WHEN end_reason = '' THEN $2 ELSE end_reason END
WHERE call_sid = $3`
	}
	return s.exec(ctx, q, Millis(at), string(voice.EndTransferred), callSID)
}

// CallState reports whether the call is recorded and whether it ended.
func (s *CallStore) CallState(ctx context.Context, callSID string) (known, ended bool, err error) {
	var status string
	var endedAt sql.NullInt64
	err = s.db.SQL.QueryRowContext(ctx, `SELECT status, ended_at FROM calls WHERE call_sid = $1`, callSID).Scan(&status, &endedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, translate(err, "call")
	}
	return true, voice.FinalStatus(status) || endedAt.Valid, nil
}

// SetEndReason records why a live call is about to end, unless a reason
// is recorded already or the call was transferred; EndCall then ends it
// with that reason whoever reports the end first.
func (s *CallStore) SetEndReason(ctx context.Context, callSID string, reason voice.EndReason, at time.Time) error {
	_, err := s.db.write(ctx, `UPDATE calls SET end_reason = $1, updated_at = $2
WHERE call_sid = $3 AND end_reason = '' AND ended_at IS NULL AND transferred_at IS NULL`, string(reason), Millis(at), callSID)
	return translate(err, "call")
}
