package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/voiceagent/voiceagent/internal/conference"
)

// InsertEvent stores a conference status callback once and applies it to
// the conference and participant rows, in one transaction. Duplicates (same
// ConferenceSid + SequenceNumber, or same idempotency token) change
// nothing. State only moves forward: a callback with a lower sequence
// number than the one applied is stored but does not roll the state back.
func (s *ConferenceStore) InsertEvent(ctx context.Context, ev conference.Event, now time.Time) (bool, error) {
	params, err := json.Marshal(ev.Params)
	if err != nil {
		return false, fmt.Errorf("encode conference event params: %w", err)
	}
	if ev.Params == nil {
		params = []byte("{}")
	}
	var key, at any
	if ev.IdempotencyKey != "" {
		key = ev.IdempotencyKey
	}
	if !ev.At.IsZero() {
		at = Millis(ev.At)
	}
	inserted := false
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO conference_events (conference_sid, conference_name, sequence_number, event, call_sid, idempotency_key, params, event_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
			ev.ConferenceSID, ev.Name, ev.Sequence, ev.Type, ev.CallSID, key, string(params), at, Millis(now))
		if err != nil {
			return translate(err, "conference event")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		inserted = true
		return applyEvent(ctx, tx, ev, Millis(now))
	})
	return inserted, err
}

// applyEvent moves the stored state forward for a new event.
func applyEvent(ctx context.Context, tx *sql.Tx, ev conference.Event, now int64) error {
	var caller string
	err := tx.QueryRowContext(ctx, `SELECT caller_call_sid FROM conferences WHERE name = $1`, ev.Name).Scan(&caller)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // not a conference voiceagent made: keep the event only
	}
	if err != nil {
		return translate(err, "conference")
	}
	if _, err := tx.ExecContext(ctx, `UPDATE conferences SET conference_sid = $1, updated_at = $2 WHERE name = $3 AND conference_sid = ''`,
		ev.ConferenceSID, now, ev.Name); err != nil {
		return translate(err, "conference")
	}
	switch ev.Type {
	case "conference-start":
		_, err = tx.ExecContext(ctx, `UPDATE conferences SET status = $1, status_seq = $2, updated_at = $3 WHERE name = $4 AND status_seq < $2 AND status <> $5`,
			conference.StatusInProgress, ev.Sequence, now, ev.Name, conference.StatusCompleted)
	case "conference-end":
		_, err = tx.ExecContext(ctx, `UPDATE conferences SET status = $1, status_seq = $2, updated_at = $3 WHERE name = $4 AND status_seq < $2`,
			conference.StatusCompleted, ev.Sequence, now, ev.Name)
	}
	if err != nil {
		return translate(err, "conference")
	}
	status := participantStatus(ev.Type)
	if ev.CallSID == "" || status == "" {
		return nil
	}
	role := conference.RoleTarget
	if ev.CallSID == caller {
		role = conference.RoleCaller
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO conference_participants (conference_name, call_sid, number, role, status, status_seq, created_at, updated_at)
VALUES ($1, $2, '', $3, $4, $5, $6, $6)
ON CONFLICT (conference_name, call_sid) DO UPDATE SET status = excluded.status, status_seq = excluded.status_seq, updated_at = excluded.updated_at
WHERE conference_participants.status_seq < excluded.status_seq`,
		ev.Name, ev.CallSID, role, status, ev.Sequence, now)
	return translate(err, "conference participant")
}

// participantStatus maps a participant event to the stored status ("" for
// events that do not change it).
func participantStatus(event string) string {
	switch event {
	case "participant-join":
		return "joined"
	case "participant-leave":
		return "left"
	}
	return ""
}
