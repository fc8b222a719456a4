package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/voiceagent/voiceagent/internal/privacy"
)

// PrivacyStore erases and exports one phone number's data.
type PrivacyStore struct{ db *DB }

// Privacy returns the privacy store.
func (db *DB) Privacy() *PrivacyStore { return &PrivacyStore{db: db} }

var _ privacy.Store = (*PrivacyStore)(nil)

// EraseNumber removes number in one transaction: the calls from or to it
// with their transcripts, stream tokens, webhook receipts and
// conferences; contacts, caller-list entries and conference participants
// with the number; then, in every text column of every table (audit
// events included, and tables added later), any remaining occurrence of
// the number (also URL-encoded) is replaced by replacement.
func (s *PrivacyStore) EraseNumber(ctx context.Context, number, replacement string) (privacy.Counts, error) {
	counts := privacy.Counts{}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		calls := `SELECT call_sid FROM calls WHERE from_number = $1 OR to_number = $1`
		confs := `SELECT name FROM conferences WHERE caller_call_sid IN (` + calls + `)`
		steps := []struct {
			kind, q string
		}{
			{privacy.KindTranscripts, `DELETE FROM transcripts WHERE call_sid IN (` + calls + `)`},
			{"", `DELETE FROM stream_tokens WHERE call_sid IN (` + calls + `)`},
			{"", `DELETE FROM webhook_receipts WHERE call_sid IN (` + calls + `)`},
			{privacy.KindConferenceEvents, `DELETE FROM conference_events WHERE conference_name IN (` + confs + `)`},
			{privacy.KindConferenceParticipants, `DELETE FROM conference_participants WHERE conference_name IN (` + confs + `) OR number = $1`},
			{privacy.KindConferences, `DELETE FROM conferences WHERE caller_call_sid IN (` + calls + `)`},
			{privacy.KindCalls, `DELETE FROM calls WHERE from_number = $1 OR to_number = $1`},
			{privacy.KindContacts, `DELETE FROM contacts WHERE phone_number = $1`},
			{privacy.KindCallerLists, `DELETE FROM caller_lists WHERE number = $1`},
		}
		for _, st := range steps {
			res, err := tx.ExecContext(ctx, st.q, number)
			if err != nil {
				return fmt.Errorf("erase (%s): %w", st.kind, err)
			}
			if st.kind != "" {
				n, _ := res.RowsAffected()
				counts[st.kind] += n
			}
		}
		return s.sweep(ctx, tx, number, replacement, counts)
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// sweep replaces number (plain and URL-encoded) in every text column.
func (s *PrivacyStore) sweep(ctx context.Context, tx *sql.Tx, number, replacement string, counts privacy.Counts) error {
	cols, err := textColumns(ctx, tx, s.db.Engine)
	if err != nil {
		return err
	}
	forms := []string{number, "%2B" + strings.TrimPrefix(number, "+")}
	for _, c := range cols {
		kind := privacy.KindOther
		switch c.table {
		case "audit_events":
			kind = privacy.KindAuditEvents
		case "transcripts":
			kind = privacy.KindTranscripts
		case "contacts":
			kind = privacy.KindContacts
		case "conference_events":
			kind = privacy.KindConferenceEvents
		}
		for _, f := range forms {
			// Identifiers come from the catalog, never from input.
			t, col := quoteIdent(c.table), quoteIdent(c.column)
			q := fmt.Sprintf(`UPDATE %s SET %s = REPLACE(%s, $1, $2) WHERE %s LIKE '%%' || $1 || '%%'`, t, col, col, col)
			res, err := tx.ExecContext(ctx, q, f, replacement)
			if err != nil {
				return fmt.Errorf("erase from %s.%s: %w", c.table, c.column, err)
			}
			n, _ := res.RowsAffected()
			counts[kind] += n
		}
	}
	return nil
}

type tableColumn struct{ table, column string }

// textColumns lists every text column of the application's tables.
func textColumns(ctx context.Context, tx *sql.Tx, engine Engine) ([]tableColumn, error) {
	q := `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'goose%' AND UPPER(p.type) IN ('TEXT', 'VARCHAR', 'CHAR', 'CLOB', '')
ORDER BY m.name, p.cid`
	if engine == Postgres {
		q = `SELECT table_name, column_name FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name NOT LIKE 'goose%' AND data_type IN ('text', 'character varying', 'character')
ORDER BY table_name, ordinal_position`
	}
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list text columns: %w", err)
	}
	defer rows.Close()
	var out []tableColumn
	for rows.Next() {
		var c tableColumn
		if err := rows.Scan(&c.table, &c.column); err != nil {
			return nil, fmt.Errorf("list text columns: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// quoteIdent double-quotes an SQL identifier (valid in both engines).
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// ExportNumber reads every row about number.
func (s *PrivacyStore) ExportNumber(ctx context.Context, number string) (privacy.Export, error) {
	ex := privacy.Export{PhoneNumber: number}
	calls := `SELECT call_sid FROM calls WHERE from_number = $1 OR to_number = $1`
	like := `'%' || $1 || '%'`
	for _, q := range []struct {
		dst *[]map[string]any
		sql string
	}{
		{&ex.Contacts, `SELECT id, name, phone_number, aliases, note, created_at, updated_at FROM contacts WHERE phone_number = $1 ORDER BY name_key`},
		{&ex.Calls, `SELECT call_sid, from_number, to_number, from_country, caller_name, decision, reason, status, duration_sec, created_at, answered_at, ended_at
FROM calls WHERE from_number = $1 OR to_number = $1 ORDER BY created_at`},
		{&ex.Transcripts, `SELECT call_sid, role, text, created_at FROM transcripts WHERE call_sid IN (` + calls + `) OR text LIKE ` + like + ` ORDER BY id`},
		{&ex.ConferenceParticipants, `SELECT conference_name, call_sid, number, role, status, created_at FROM conference_participants
WHERE number = $1 OR conference_name IN (SELECT name FROM conferences WHERE caller_call_sid IN (` + calls + `)) ORDER BY created_at`},
		{&ex.CallerLists, `SELECT list, number, source, created_at FROM caller_lists WHERE number = $1 ORDER BY list`},
		{&ex.AuditEvents, `SELECT id, type, severity, actor, call_sid, detail, created_at FROM audit_events WHERE detail LIKE ` + like + ` OR call_sid IN (` + calls + `) ORDER BY id`},
	} {
		rows, err := s.db.SQL.QueryContext(ctx, q.sql, number)
		if err != nil {
			return ex, fmt.Errorf("export: %w", err)
		}
		list, err := rowMaps(rows)
		if err != nil {
			return ex, fmt.Errorf("export: %w", err)
		}
		*q.dst = list
	}
	return ex, nil
}

// rowMaps reads every row as a column-name map (text as string) and
// closes rows.
func rowMaps(rows *sql.Rows) ([]map[string]any, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string]any, len(cols))
		for i, c := range cols {
			if b, ok := vals[i].([]byte); ok {
				vals[i] = string(b)
			}
			m[c] = vals[i]
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
