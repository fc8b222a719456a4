package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/phone"
	"github.com/voiceagent/voiceagent/internal/privacy"
)

// PrivacyStore erases and exports one phone number's data.
type PrivacyStore struct{ db *DB }

// Privacy returns the privacy store.
func (db *DB) Privacy() *PrivacyStore { return &PrivacyStore{db: db} }

var _ privacy.Store = (*PrivacyStore)(nil)

// subjectRow is one row that belongs to the data subject: the export
// lists it, the erasure deletes it or (rewrite set) replaces the number
// inside its text columns.
type subjectRow struct {
	table, kind string
	loc         any            // engine row locator (SQLite rowid, PostgreSQL ctid)
	row         map[string]any // every column, as stored
	rewrite     map[string]string
}

// structuredNumbers are the columns that hold exactly one phone number.
// They are matched by equality only, never searched inside: erasing
// +1415555019 must leave +14155550199 as it is.
var structuredNumbers = map[string]bool{
	"calls.from_number": true, "calls.to_number": true, "contacts.phone_number": true,
	"caller_lists.number": true, "conference_participants.number": true,
}

// notText reports columns the sweep never searches: identifiers whose
// digit runs are not numbers (SIDs, hashes, idempotency keys).
func notText(column string) bool {
	c := strings.ToLower(column)
	return strings.HasSuffix(c, "sid") || strings.HasSuffix(c, "_hash") || c == "idempotency_key"
}

// tableKind is the kind an erasure counts a table's rows under.
func tableKind(table string) string {
	switch table {
	case "calls":
		return privacy.KindCalls
	case "transcripts":
		return privacy.KindTranscripts
	case "call_tools", "call_metrics":
		return privacy.KindCallDetails
	case "conferences":
		return privacy.KindConferences
	case "conference_participants":
		return privacy.KindConferenceParticipants
	case "conference_events":
		return privacy.KindConferenceEvents
	case "contacts":
		return privacy.KindContacts
	case "caller_lists":
		return privacy.KindCallerLists
	case "audit_events":
		return privacy.KindAuditEvents
	case "event_payloads":
		return privacy.KindEventPayloads
	case "stream_tokens":
		return privacy.KindStreamTokens
	case "webhook_receipts":
		return privacy.KindWebhookReceipts
	case "webhook_outbox":
		return privacy.KindWebhookOutbox
	case "webhook_deliveries":
		return privacy.KindWebhookDeliveries
	}
	return privacy.KindOther
}

// locColumn is the select-list expression of the engine's row locator.
func (s *PrivacyStore) locColumn() string {
	if s.db.Engine == Postgres {
		return "ctid::text AS va_loc"
	}
	return "rowid AS va_loc"
}

// stripSeparators is col with phone.Separators removed, for the digit
// pre-filter. The non-ASCII separators (typographic dashes and spaces) are
// removed only from values that hold a non-ASCII character, so the
// common all-ASCII value pays for the ASCII separators' REPLACE passes and
// not for ten more (BENCHMARKS.md has the measurement).
func (s *PrivacyStore) stripSeparators(col string) string {
	ascii, all := col, col
	for _, sep := range phone.Separators {
		r := fmt.Sprintf(`REPLACE(%%s, '%c', '')`, sep)
		if sep < 0x80 {
			ascii = fmt.Sprintf(r, ascii)
		}
		all = fmt.Sprintf(r, all)
	}
	onlyASCII := fmt.Sprintf(`length(%s) = length(CAST(%s AS BLOB))`, col, col)
	if s.db.Engine == Postgres {
		onlyASCII = fmt.Sprintf(`octet_length(%s) = char_length(%s)`, col, col)
	}
	return fmt.Sprintf(`(CASE WHEN %s THEN %s ELSE %s END)`, onlyASCII, ascii, all)
}

// locWhere is the condition selecting a row by its locator ($n).
func (s *PrivacyStore) locWhere(n int) string {
	if s.db.Engine == Postgres {
		return fmt.Sprintf("ctid = $%d::tid", n)
	}
	return fmt.Sprintf("rowid = $%d", n)
}

// findSubjectRows is the one place that decides which rows are about the
// number: both the export and the erasure read their rows from it, so an
// export lists exactly what an erasure removes.
//
// Rows are the subject's by relation (the calls from or to the number
// and everything hanging off them, the contacts, caller-list entries and
// conference legs with the number, compared by equality), or because a
// free-text column of any table holds the number as a whole number in a
// written form (see phone.Matcher). SQL only narrows the candidates: it
// strips the separators and looks for the number's digits; the matching
// itself is done here in Go. With lock set (an erasure on PostgreSQL) the
// rows are locked so their locators stay valid until the commit.
func (s *PrivacyStore) findSubjectRows(ctx context.Context, tx *sql.Tx, m *phone.Matcher, replacement string, lock bool) ([]subjectRow, error) {
	forUpdate := ""
	if lock && s.db.Engine == Postgres {
		forUpdate = " FOR UPDATE"
	}
	calls := `SELECT call_sid FROM calls WHERE from_number = $1 OR to_number = $1`
	confs := `SELECT name FROM conferences WHERE caller_call_sid IN (` + calls + `)`
	legs := `SELECT call_sid FROM conference_participants WHERE number = $1`
	relational := []struct{ table, where string }{
		{"calls", `from_number = $1 OR to_number = $1`},
		{"transcripts", `call_sid IN (` + calls + `)`},
		{"call_tools", `call_sid IN (` + calls + `)`},
		{"call_metrics", `call_sid IN (` + calls + `)`},
		{"stream_tokens", `call_sid IN (` + calls + `)`},
		{"webhook_receipts", `call_sid IN (` + calls + `)`},
		{"webhook_outbox", `call_sid IN (` + calls + `)`},
		{"webhook_deliveries", `call_sid IN (` + calls + `)`},
		{"conferences", `caller_call_sid IN (` + calls + `)`},
		{"conference_participants", `number = $1 OR conference_name IN (` + confs + `)`},
		{"conference_events", `conference_name IN (` + confs + `) OR call_sid IN (` + calls + `) OR call_sid IN (` + legs + `)`},
		{"contacts", `phone_number = $1`},
		{"caller_lists", `number = $1`},
	}
	var out []subjectRow
	seen := map[string]bool{}
	key := func(table string, loc any) string { return table + "\x00" + fmt.Sprint(loc) }
	for _, r := range relational {
		rows, err := s.selectRows(ctx, tx, `SELECT `+s.locColumn()+`, * FROM `+r.table+` WHERE `+r.where+forUpdate, m.Number())
		if err != nil {
			return nil, fmt.Errorf("find %s: %w", r.table, err)
		}
		for _, row := range rows {
			loc := row["va_loc"]
			delete(row, "va_loc")
			seen[key(r.table, loc)] = true
			out = append(out, subjectRow{table: r.table, kind: tableKind(r.table), loc: loc, row: row})
		}
	}

	cols, err := textColumns(ctx, tx, s.db.Engine)
	if err != nil {
		return nil, err
	}
	byTable := map[string][]string{}
	var tables []string
	for _, c := range cols {
		if notText(c.column) || structuredNumbers[c.table+"."+c.column] {
			continue
		}
		if _, ok := byTable[c.table]; !ok {
			tables = append(tables, c.table)
		}
		byTable[c.table] = append(byTable[c.table], c.column)
	}
	// A digit string containing another adds no candidate: search only
	// the shortest (for NANP numbers the ten national digits cover the
	// international forms).
	var digits []string
	for _, d := range m.Digits() {
		covered := false
		for _, e := range digits {
			if strings.Contains(d, e) {
				covered = true
				break
			}
		}
		if !covered {
			digits = append(digits, d)
		}
	}
	for _, table := range tables {
		// Identifiers come from the catalog, never from input.
		var conds []string
		var args []any
		for _, c := range byTable[table] {
			stripped := s.stripSeparators(quoteIdent(c))
			for _, d := range digits {
				args = append(args, "%"+d+"%")
				conds = append(conds, fmt.Sprintf(`%s LIKE $%d`, stripped, len(args)))
			}
		}
		q := fmt.Sprintf(`SELECT %s, * FROM %s WHERE %s%s`, s.locColumn(), quoteIdent(table), strings.Join(conds, " OR "), forUpdate)
		rows, err := s.selectRows(ctx, tx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("find in %s: %w", table, err)
		}
		for _, row := range rows {
			loc := row["va_loc"]
			delete(row, "va_loc")
			if seen[key(table, loc)] {
				continue
			}
			rewrite := map[string]string{}
			for _, c := range byTable[table] {
				v, ok := row[c].(string)
				if !ok {
					continue
				}
				if nv, hit := m.Replace(v, replacement); hit {
					rewrite[c] = nv
				}
			}
			if len(rewrite) == 0 {
				continue // the digits, but not as a whole number
			}
			if table == "event_payloads" || table == "webhook_outbox" {
				// A stored live event, or a webhook event waiting for
				// delivery, is a whole JSON document kept for minutes (at
				// most a day): deleted rather than edited.
				rewrite = nil
			}
			out = append(out, subjectRow{table: table, kind: tableKind(table), loc: loc, row: row, rewrite: rewrite})
		}
	}
	return out, nil
}

// selectRows reads every row as a column-name map (text as string).
func (s *PrivacyStore) selectRows(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]map[string]any, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rowMaps(rows)
}

// EraseNumber removes number in one transaction: every row
// findSubjectRows finds is deleted, except rows kept for their own sake
// (audit events, and rows of other people that merely mention the
// number), in which each written form of the number is replaced by
// replacement. Counts are rows, never columns. After the commit the
// freed space is cleared (see scrub).
func (s *PrivacyStore) EraseNumber(ctx context.Context, number, replacement string) (privacy.Counts, error) {
	m, err := phone.NewMatcher(number)
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "phoneNumber must be an E.164 number such as +15551234567")
	}
	counts := privacy.Counts{}
	for _, k := range privacy.AllKinds {
		counts[k] = 0
	}
	touched := map[string]bool{}
	// On PostgreSQL the erasure and its VACUUM share one connection, so
	// this backend's statistics (the dead rows it made) are flushed before
	// the VACUUM counts what is left.
	var conn *sql.Conn
	if s.db.Engine == Postgres {
		if conn, err = s.db.SQL.Conn(ctx); err != nil {
			return nil, fmt.Errorf("erase: %w", err)
		}
		defer conn.Close()
	}
	err = s.inTx(ctx, conn, func(tx *sql.Tx) error {
		found, err := s.findSubjectRows(ctx, tx, m, replacement, true)
		if err != nil {
			return err
		}
		for _, r := range found {
			var q string
			var args []any
			if r.rewrite == nil {
				q = `DELETE FROM ` + quoteIdent(r.table) + ` WHERE ` + s.locWhere(1)
				args = []any{r.loc}
			} else {
				cols := make([]string, 0, len(r.rewrite))
				for c := range r.rewrite {
					cols = append(cols, c)
				}
				sort.Strings(cols)
				var sets []string
				for _, c := range cols {
					args = append(args, r.rewrite[c])
					sets = append(sets, fmt.Sprintf(`%s = $%d`, quoteIdent(c), len(args)))
				}
				args = append(args, r.loc)
				q = `UPDATE ` + quoteIdent(r.table) + ` SET ` + strings.Join(sets, ", ") + ` WHERE ` + s.locWhere(len(args))
			}
			res, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return fmt.Errorf("erase from %s: %w", r.table, err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("erase from %s: row moved during the erasure (%d rows)", r.table, n)
			}
			counts[r.kind]++
			touched[r.table] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.scrub(ctx, conn, touched); err != nil {
		return counts, err
	}
	return counts, nil
}

// inTx runs fn in a transaction on conn (PostgreSQL), or through the
// DB's own transaction helper (conn nil: SQLite, with its writer lock).
func (s *PrivacyStore) inTx(ctx context.Context, conn *sql.Conn, fn func(tx *sql.Tx) error) error {
	if conn == nil {
		return s.db.InTx(ctx, fn)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

type tableColumn struct{ table, column string }

// textColumns lists every text column of the application's tables (base
// tables only: views have no row locator).
func textColumns(ctx context.Context, tx *sql.Tx, engine Engine) ([]tableColumn, error) {
	q := `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'goose%' AND UPPER(p.type) IN ('TEXT', 'VARCHAR', 'CHAR', 'CLOB', '')
ORDER BY m.name, p.cid`
	if engine == Postgres {
		q = `SELECT c.table_name, c.column_name FROM information_schema.columns c
JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
WHERE c.table_schema = current_schema() AND c.table_name NOT LIKE 'goose%' AND c.data_type IN ('text', 'character varying', 'character')
ORDER BY c.table_name, c.ordinal_position`
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

// ExportNumber reads, in one read-only transaction (PostgreSQL: one
// REPEATABLE READ snapshot; SQLite: a deferred transaction reads one WAL
// snapshot), exactly the rows EraseNumber would delete or rewrite.
func (s *PrivacyStore) ExportNumber(ctx context.Context, number string) (privacy.Export, error) {
	ex := privacy.Export{PhoneNumber: number}
	m, err := phone.NewMatcher(number)
	if err != nil {
		return ex, apperr.New(apperr.Invalid, "phoneNumber must be an E.164 number such as +15551234567")
	}
	opts := &sql.TxOptions{ReadOnly: true}
	if s.db.Engine == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.SQL.BeginTx(ctx, opts)
	if err != nil {
		return ex, fmt.Errorf("export: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to undo
	found, err := s.findSubjectRows(ctx, tx, m, "", false)
	if err != nil {
		return ex, fmt.Errorf("export: %w", err)
	}
	for _, r := range found {
		if r.kind == privacy.KindOther {
			r.row["_table"] = r.table
		}
		ex.Add(r.kind, r.row)
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
