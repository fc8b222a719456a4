package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/conference"
)

// ConferenceStore keeps conferences, their participants and their status
// callbacks.
type ConferenceStore struct{ db *DB }

// Conferences returns the conference store.
func (db *DB) Conferences() *ConferenceStore { return &ConferenceStore{db: db} }

var _ conference.Store = (*ConferenceStore)(nil)

// EnsureConference creates the row when missing and returns it.
func (s *ConferenceStore) EnsureConference(ctx context.Context, name, callerCallSID string, now time.Time) (conference.Conference, error) {
	_, err := s.db.write(ctx, `INSERT INTO conferences (name, caller_call_sid, created_at, updated_at) VALUES ($1, $2, $3, $3)
ON CONFLICT (name) DO NOTHING`, name, callerCallSID, Millis(now))
	if err != nil {
		return conference.Conference{}, translate(err, "conference")
	}
	return s.getRow(ctx, s.db.SQL, name)
}

type queryer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func (s *ConferenceStore) getRow(ctx context.Context, q queryer, name string) (conference.Conference, error) {
	var c conference.Conference
	var joined, created, updated int64
	err := q.QueryRowContext(ctx, `SELECT name, caller_call_sid, conference_sid, status, caller_joined, created_at, updated_at FROM conferences WHERE name = $1`, name).
		Scan(&c.Name, &c.CallerCallSID, &c.ConferenceSID, &c.Status, &joined, &created, &updated)
	if err != nil {
		return c, translate(err, "conference")
	}
	c.CallerJoined = joined != 0
	c.CreatedAt, c.UpdatedAt = FromMillis(created), FromMillis(updated)
	return c, nil
}

// GetConference returns the conference with participants and events.
func (s *ConferenceStore) GetConference(ctx context.Context, name string) (conference.Conference, error) {
	c, err := s.getRow(ctx, s.db.SQL, name)
	if err != nil {
		return c, err
	}
	rows, err := s.db.SQL.QueryContext(ctx, `SELECT call_sid, number, role, status, updated_at FROM conference_participants WHERE conference_name = $1 ORDER BY created_at, call_sid`, name)
	if err != nil {
		return c, translate(err, "conference participants")
	}
	defer rows.Close()
	for rows.Next() {
		var p conference.Participant
		var at int64
		if err := rows.Scan(&p.CallSID, &p.Number, &p.Role, &p.Status, &at); err != nil {
			return c, translate(err, "conference participants")
		}
		p.UpdatedAt = FromMillis(at)
		c.Participants = append(c.Participants, p)
	}
	if err := rows.Err(); err != nil {
		return c, translate(err, "conference participants")
	}
	c.Events, err = s.events(ctx, name)
	return c, err
}

func (s *ConferenceStore) events(ctx context.Context, name string) ([]conference.Event, error) {
	rows, err := s.db.SQL.QueryContext(ctx, `SELECT conference_sid, conference_name, sequence_number, event, call_sid, params, event_at, created_at
FROM conference_events WHERE conference_name = $1 ORDER BY sequence_number, id`, name)
	if err != nil {
		return nil, translate(err, "conference events")
	}
	defer rows.Close()
	var out []conference.Event
	for rows.Next() {
		var ev conference.Event
		var params string
		var at sql.NullInt64
		var created int64
		if err := rows.Scan(&ev.ConferenceSID, &ev.Name, &ev.Sequence, &ev.Type, &ev.CallSID, &params, &at, &created); err != nil {
			return nil, translate(err, "conference events")
		}
		if err := json.Unmarshal([]byte(params), &ev.Params); err != nil {
			return nil, fmt.Errorf("decode conference event params: %w", err)
		}
		ev.At = FromMillis(created)
		if at.Valid {
			ev.At = FromMillis(at.Int64)
		}
		out = append(out, ev)
	}
	return out, translate(rows.Err(), "conference events")
}

// MarkCallerJoined records that the caller was moved in.
func (s *ConferenceStore) MarkCallerJoined(ctx context.Context, name string, now time.Time) error {
	return s.update(ctx, `UPDATE conferences SET caller_joined = 1, updated_at = $1 WHERE name = $2`, Millis(now), name)
}

// SetConferenceSID records the CF SID when none is stored.
func (s *ConferenceStore) SetConferenceSID(ctx context.Context, name, sid string, now time.Time) error {
	return s.update(ctx, `UPDATE conferences SET conference_sid = CASE WHEN conference_sid = '' THEN $1 ELSE conference_sid END, updated_at = $2 WHERE name = $3`, sid, Millis(now), name)
}

// SetConferenceStatus sets the status (API actions).
func (s *ConferenceStore) SetConferenceStatus(ctx context.Context, name, status string, now time.Time) error {
	return s.update(ctx, `UPDATE conferences SET status = $1, updated_at = $2 WHERE name = $3`, status, Millis(now), name)
}

// update runs one conference UPDATE; no row changed is not_found.
func (s *ConferenceStore) update(ctx context.Context, q string, args ...any) error {
	res, err := s.db.write(ctx, q, args...)
	if err != nil {
		return translate(err, "conference")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.NotFound, "conference not found")
	}
	return nil
}

// UpsertParticipant stores a participant the API dialled or moved in. A
// status set by a status callback (status_seq >= 0) is not overwritten:
// the callback can arrive before Twilio's REST answer does.
func (s *ConferenceStore) UpsertParticipant(ctx context.Context, name string, p conference.Participant, now time.Time) error {
	_, err := s.db.write(ctx, `INSERT INTO conference_participants (conference_name, call_sid, number, role, status, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)
ON CONFLICT (conference_name, call_sid) DO UPDATE SET
  number = CASE WHEN excluded.number <> '' THEN excluded.number ELSE conference_participants.number END,
  role = excluded.role,
  status = CASE WHEN conference_participants.status_seq < 0 THEN excluded.status ELSE conference_participants.status END,
  updated_at = excluded.updated_at`, name, p.CallSID, p.Number, p.Role, p.Status, Millis(now))
	return translate(err, "conference participant")
}
