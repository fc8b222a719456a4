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

// insertAuditPostgres writes a batch of audit events in one statement (one
// round trip whatever the batch's size), each array one column, in batch
// order.
const insertAuditPostgres = `INSERT INTO audit_events (type, severity, actor, remote_ip, call_sid, detail, created_at)
SELECT t, sev, actor, ip, sid, detail, at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) WITH ORDINALITY
  AS e(t, sev, actor, ip, sid, detail, at, n)
ORDER BY n`

// InsertAuditEvents writes a batch in one transaction (on PostgreSQL in
// one statement: a round trip per event was most of the audit writer's
// cost on the webhook path). A security_alert, or a tool_call that failed,
// also writes its webhook event (security.alert, tool.failed) in that
// transaction.
func (s *AuditStore) InsertAuditEvents(ctx context.Context, evs []audit.Event) error {
	if s.db.Engine == Postgres {
		return s.insertAuditPostgres(ctx, evs)
	}
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
			w, err := s.enqueueAuditEvent(ctx, tx, ev)
			if err != nil {
				return err
			}
			wrote = wrote || w
		}
		return nil
	})
	if err == nil && wrote {
		s.db.outboxWritten()
	}
	return err
}

// enqueueAuditEvent writes ev's webhook event in tx, if it causes one.
func (s *AuditStore) enqueueAuditEvent(ctx context.Context, tx *sql.Tx, ev audit.Event) (bool, error) {
	typ, ok := auditEvent(ev)
	if !ok {
		return false, nil
	}
	w, err := s.db.enqueue(ctx, tx, typ, ev.CallSID, webhooks.AuditPayload(ev.CallSID, ev.Time, ev.Detail), ev.Time)
	if err != nil {
		return false, fmt.Errorf("webhook event of audit event: %w", err)
	}
	return w, nil
}

func (s *AuditStore) insertAuditPostgres(ctx context.Context, evs []audit.Event) error {
	var typ, sev, actor, ip, sid, detail []string
	var at []int64
	for _, ev := range evs {
		d := []byte("{}")
		if len(ev.Detail) > 0 {
			var err error
			if d, err = json.Marshal(ev.Detail); err != nil {
				return fmt.Errorf("encode audit detail: %w", err)
			}
		}
		typ, sev, actor = append(typ, ev.Type), append(sev, ev.Severity), append(actor, ev.Actor)
		ip, sid, detail = append(ip, ev.RemoteIP), append(sid, ev.CallSID), append(detail, string(d))
		at = append(at, Millis(ev.Time))
	}
	causes := false
	for _, ev := range evs {
		if _, ok := auditEvent(ev); ok {
			causes = true
			break
		}
	}
	if !causes { // the common case: one statement, no transaction
		if _, err := s.db.SQL.ExecContext(ctx, insertAuditPostgres, typ, sev, actor, ip, sid, detail, at); err != nil {
			return fmt.Errorf("insert audit events: %w", err)
		}
		return nil
	}
	var wrote bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertAuditPostgres, typ, sev, actor, ip, sid, detail, at); err != nil {
			return fmt.Errorf("insert audit events: %w", err)
		}
		for _, ev := range evs {
			w, err := s.enqueueAuditEvent(ctx, tx, ev)
			if err != nil {
				return err
			}
			wrote = wrote || w
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
