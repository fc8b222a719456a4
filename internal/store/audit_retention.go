package store

import (
	"context"
	"time"
)

// DeleteAuditEventsBefore erases audit events older than t (the
// AUDIT_RETENTION_DAYS window) and returns how many went.
func (s *AuditStore) DeleteAuditEventsBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.db.write(ctx, `DELETE FROM audit_events WHERE created_at < $1`, Millis(t))
	if err != nil {
		return 0, translate(err, "audit events")
	}
	return res.RowsAffected()
}

// DeleteEventPayloadsBefore erases stored live-event payloads older than
// t; they are only needed for the moment every instance fetches them.
func (db *DB) DeleteEventPayloadsBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := db.write(ctx, `DELETE FROM event_payloads WHERE created_at < $1`, Millis(t))
	if err != nil {
		return 0, translate(err, "event payloads")
	}
	return res.RowsAffected()
}
