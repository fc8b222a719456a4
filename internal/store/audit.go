package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/webhooks"
)

// AuditStore keeps audit events.
type AuditStore struct{ db *DB }

// Audit returns the audit store.
func (db *DB) Audit() *AuditStore { return &AuditStore{db: db} }

var _ audit.Store = (*AuditStore)(nil)

// InsertAuditEvents writes a batch in one transaction. A security_alert,
// or a tool_call that failed, also writes its webhook event
// (security.alert, tool.failed) in that transaction (issue 15).
func (s *AuditStore) InsertAuditEvents(ctx context.Context, evs []audit.Event) error {
	var wrote bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		stmt, err := s.db.txStmt(ctx, tx, `INSERT INTO audit_events (type, severity, actor, remote_ip, call_sid, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`)
		if err != nil {
			return fmt.Errorf("prepare audit insert: %w", err)
		}
		for _, ev := range evs {
			detail := []byte("{}")
			if len(ev.Detail) > 0 {
				if detail, err = json.Marshal(ev.Detail); err != nil {
					return fmt.Errorf("encode audit detail: %w", err)
				}
			}
			if _, err := stmt.ExecContext(ctx, ev.Type, ev.Severity, ev.Actor, ev.RemoteIP, ev.CallSID, string(detail), Millis(ev.Time)); err != nil {
				return fmt.Errorf("insert audit event: %w", err)
			}
			if typ, ok := auditEvent(ev); ok {
				w, err := s.db.enqueue(ctx, tx, typ, ev.CallSID, webhooks.AuditPayload(ev.CallSID, ev.Time, ev.Detail), ev.Time)
				if err != nil {
					return fmt.Errorf("webhook event of audit event: %w", err)
				}
				wrote = wrote || w
			}
		}
		return nil
	})
	if err == nil && wrote {
		s.db.outboxWritten()
	}
	return err
}

// ListAuditEvents returns events of the given type (all when empty) in the
// time range, newest first, at most limit, starting below beforeID when it
// is positive (for paging).
func (s *AuditStore) ListAuditEvents(ctx context.Context, f audit.Filter) ([]audit.Event, error) {
	q := `SELECT id, type, severity, actor, remote_ip, call_sid, detail, created_at FROM audit_events
WHERE ($1 = '' OR type = $1) AND created_at >= $2 AND created_at < $3 AND ($4 <= 0 OR id < $4)
ORDER BY id DESC LIMIT $5`
	rows, err := s.db.SQL.QueryContext(ctx, q, f.Type, Millis(f.Since), Millis(f.Until), f.BeforeID, f.Limit)
	if err != nil {
		return nil, translate(err, "audit events")
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		var ev audit.Event
		var detail string
		var at int64
		if err := rows.Scan(&ev.ID, &ev.Type, &ev.Severity, &ev.Actor, &ev.RemoteIP, &ev.CallSID, &detail, &at); err != nil {
			return nil, translate(err, "audit events")
		}
		ev.Time = FromMillis(at)
		if detail != "" && detail != "{}" {
			if err := json.Unmarshal([]byte(detail), &ev.Detail); err != nil {
				return nil, fmt.Errorf("decode audit detail %d: %w", ev.ID, err)
			}
		}
		out = append(out, ev)
	}
	return out, translate(rows.Err(), "audit events")
}
