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
// with the number; stored live-event payloads that mention it; then, in
// every text column of every table (audit events included, and tables
// added later), any remaining occurrence of the number (also URL-encoded)
// is replaced by replacement. Counts are rows, never columns.
func (s *PrivacyStore) EraseNumber(ctx context.Context, number, replacement string) (privacy.Counts, error) {
	counts := privacy.Counts{}
	forms := numberForms(number)
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
		// A stored live event is a whole JSON document only kept for a
		// few minutes: delete it rather than edit it.
		where, args := containsAny("payload", forms, 1)
		res, err := tx.ExecContext(ctx, `DELETE FROM event_payloads WHERE `+where, args...)
		if err != nil {
			return fmt.Errorf("erase (%s): %w", privacy.KindEventPayloads, err)
		}
		n, _ := res.RowsAffected()
		counts[privacy.KindEventPayloads] += n
		return s.sweep(ctx, tx, forms, replacement, counts)
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// numberForms are the spellings of number that are searched for and
// replaced: as stored, and URL-encoded (%2B, either case) as in logged
// URLs and webhook parameters.
func numberForms(number string) []string {
	digits := strings.TrimPrefix(number, "+")
	return []string{number, "%2B" + digits, "%2b" + digits}
}

// likeEscape escapes LIKE patterns; written out in every LIKE so both
// engines agree (SQLite has no default escape character).
const likeEscape = `!`

// likeContains is a LIKE pattern matching any text containing s
// literally: its own % and _ (as in "%2B") are not wildcards.
func likeContains(s string) string {
	r := strings.NewReplacer(likeEscape, likeEscape+likeEscape, "%", likeEscape+"%", "_", likeEscape+"_")
	return "%" + r.Replace(s) + "%"
}

// containsAny is an SQL condition true when col contains any of forms,
// with its arguments; placeholders are numbered from first.
func containsAny(col string, forms []string, first int) (string, []any) {
	conds := make([]string, len(forms))
	args := make([]any, len(forms))
	for i, f := range forms {
		conds[i] = fmt.Sprintf(`%s LIKE $%d ESCAPE '%s'`, col, first+i, likeEscape)
		args[i] = likeContains(f)
	}
	return "(" + strings.Join(conds, " OR ") + ")", args
}

// sweep replaces every form of the number in every text column, with one
// UPDATE per table so each rewritten row is counted once.
func (s *PrivacyStore) sweep(ctx context.Context, tx *sql.Tx, forms []string, replacement string, counts privacy.Counts) error {
	cols, err := textColumns(ctx, tx, s.db.Engine)
	if err != nil {
		return err
	}
	byTable := map[string][]string{}
	var tables []string
	for _, c := range cols {
		if c.table == "event_payloads" {
			continue // deleted above
		}
		if _, ok := byTable[c.table]; !ok {
			tables = append(tables, c.table)
		}
		byTable[c.table] = append(byTable[c.table], c.column)
	}
	for _, table := range tables {
		kind := privacy.KindOther
		switch table {
		case "audit_events":
			kind = privacy.KindAuditEvents
		case "transcripts":
			kind = privacy.KindTranscripts
		case "contacts":
			kind = privacy.KindContacts
		case "conference_events":
			kind = privacy.KindConferenceEvents
		}
		// Identifiers come from the catalog, never from input. $1 is the
		// replacement, $2.. the forms (for REPLACE), then the patterns.
		args := []any{replacement}
		for _, f := range forms {
			args = append(args, f)
		}
		var sets, conds []string
		for _, c := range byTable[table] {
			col := quoteIdent(c)
			expr := col
			for i := range forms {
				expr = fmt.Sprintf(`REPLACE(%s, $%d, $1)`, expr, 2+i)
			}
			sets = append(sets, col+" = "+expr)
			cond, condArgs := containsAny(col, forms, len(args)+1)
			conds = append(conds, cond)
			args = append(args, condArgs...)
		}
		q := fmt.Sprintf(`UPDATE %s SET %s WHERE %s`, quoteIdent(table), strings.Join(sets, ", "), strings.Join(conds, " OR "))
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("erase from %s: %w", table, err)
		}
		n, _ := res.RowsAffected()
		counts[kind] += n
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

// ExportNumber reads every row about number in one read-only transaction,
// so the parts agree with each other (PostgreSQL: one REPEATABLE READ
// snapshot; SQLite: a deferred transaction reads one WAL snapshot).
func (s *PrivacyStore) ExportNumber(ctx context.Context, number string) (privacy.Export, error) {
	ex := privacy.Export{PhoneNumber: number}
	opts := &sql.TxOptions{ReadOnly: true}
	if s.db.Engine == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.SQL.BeginTx(ctx, opts)
	if err != nil {
		return ex, fmt.Errorf("export: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to undo

	forms := numberForms(number)
	// $1 is the number; text searches take the forms' patterns from $2.
	contains := func(col string) string { c, _ := containsAny(col, forms, 2); return c }
	_, patterns := containsAny("", forms, 2)
	withPatterns := append([]any{number}, patterns...)
	plain := []any{number}

	calls := `SELECT call_sid FROM calls WHERE from_number = $1 OR to_number = $1`
	callerConfs := `SELECT name FROM conferences WHERE caller_call_sid IN (` + calls + `)`
	joined := `SELECT conference_name FROM conference_participants WHERE number = $1`
	legs := `SELECT call_sid FROM conference_participants WHERE number = $1`
	for _, q := range []struct {
		dst  *[]map[string]any
		sql  string
		args []any
	}{
		{&ex.Contacts, `SELECT id, name, phone_number, aliases, note, created_at, updated_at FROM contacts
WHERE phone_number = $1 OR ` + contains("note") + ` ORDER BY name_key`, withPatterns},
		{&ex.Calls, `SELECT call_sid, from_number, to_number, from_country, caller_name, decision, reason, status, duration_sec, created_at, answered_at, ended_at
FROM calls WHERE from_number = $1 OR to_number = $1 ORDER BY created_at`, plain},
		{&ex.Transcripts, `SELECT call_sid, role, text, created_at FROM transcripts WHERE call_sid IN (` + calls + `) OR ` + contains("text") + ` ORDER BY id`, withPatterns},
		{&ex.Conferences, `SELECT name, caller_call_sid, conference_sid, status, caller_joined, created_at, updated_at FROM conferences
WHERE caller_call_sid IN (` + calls + `) OR name IN (` + joined + `) ORDER BY created_at, name`, plain},
		{&ex.ConferenceParticipants, `SELECT conference_name, call_sid, number, role, status, created_at FROM conference_participants
WHERE number = $1 OR conference_name IN (` + callerConfs + `) ORDER BY created_at`, plain},
		{&ex.ConferenceEvents, `SELECT conference_sid, conference_name, sequence_number, event, call_sid, params, event_at, created_at FROM conference_events
WHERE conference_name IN (` + callerConfs + `) OR call_sid IN (` + calls + `) OR call_sid IN (` + legs + `) OR ` + contains("params") + ` ORDER BY id`, withPatterns},
		{&ex.CallerLists, `SELECT list, number, source, created_at FROM caller_lists WHERE number = $1 ORDER BY list`, plain},
		{&ex.AuditEvents, `SELECT id, type, severity, actor, call_sid, detail, created_at FROM audit_events
WHERE ` + contains("detail") + ` OR call_sid IN (` + calls + `) ORDER BY id`, withPatterns},
	} {
		rows, err := tx.QueryContext(ctx, q.sql, q.args...)
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
