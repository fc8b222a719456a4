package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/voiceagent/voiceagent/internal/agents"
	"github.com/voiceagent/voiceagent/internal/apperr"
)

// AgentStore keeps agents, HTTP tools and number assignments.
type AgentStore struct{ db *DB }

// Agents returns the agent store.
func (db *DB) Agents() *AgentStore { return &AgentStore{db: db} }

var _ agents.Store = (*AgentStore)(nil)

// IsForeignKeyViolation reports whether err is a foreign-key failure in
// either engine.
func IsForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	return false
}

const agentCols = `id, name, instructions, greeting, voice, model, language, tools, dial_policy, max_call_ms, idle_timeout_ms, created_at, updated_at`

func scanAgent(row scanner) (agents.Agent, error) {
	var a agents.Agent
	var tools string
	var maxMs, idleMs, created, updated int64
	if err := row.Scan(&a.ID, &a.Name, &a.Instructions, &a.Greeting, &a.Voice, &a.Model, &a.Language, &tools, &a.DialPolicy, &maxMs, &idleMs, &created, &updated); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(tools), &a.Tools); err != nil {
		return a, fmt.Errorf("decode tools of %s: %w", a.ID, err)
	}
	if a.Tools == nil {
		a.Tools = []string{}
	}
	a.MaxCallDuration, a.IdleTimeout = time.Duration(maxMs)*time.Millisecond, time.Duration(idleMs)*time.Millisecond
	a.CreatedAt, a.UpdatedAt = FromMillis(created), FromMillis(updated)
	return a, nil
}

func encodeTools(t []string) string {
	if t == nil {
		t = []string{}
	}
	b, _ := json.Marshal(t) //nolint:errcheck // a []string always encodes
	return string(b)
}

// ListAgents returns every stored agent by name.
func (s *AgentStore) ListAgents(ctx context.Context) ([]agents.Agent, error) {
	rows, err := s.db.SQL.QueryContext(ctx, `SELECT `+agentCols+` FROM agents ORDER BY name, id`)
	if err != nil {
		return nil, translate(err, "agents")
	}
	defer rows.Close()
	out := []agents.Agent{}
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, translate(err, "agents")
		}
		out = append(out, a)
	}
	return out, translate(rows.Err(), "agents")
}

// GetAgent returns one stored agent.
func (s *AgentStore) GetAgent(ctx context.Context, id string) (agents.Agent, error) {
	a, err := scanAgent(s.db.SQL.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents WHERE id = $1`, id))
	return a, translate(err, "agent")
}

// InsertAgent stores a new agent.
func (s *AgentStore) InsertAgent(ctx context.Context, a agents.Agent) error {
	_, err := s.db.write(ctx, `INSERT INTO agents (`+agentCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		a.ID, a.Name, a.Instructions, a.Greeting, a.Voice, a.Model, a.Language, encodeTools(a.Tools), a.DialPolicy,
		a.MaxCallDuration.Milliseconds(), a.IdleTimeout.Milliseconds(), Millis(a.CreatedAt), Millis(a.UpdatedAt))
	return translate(err, "agent")
}

// UpdateAgent replaces a stored agent's fields.
func (s *AgentStore) UpdateAgent(ctx context.Context, a agents.Agent) error {
	res, err := s.db.write(ctx, `UPDATE agents SET name = $1, instructions = $2, greeting = $3, voice = $4, model = $5, language = $6, tools = $7, dial_policy = $8, max_call_ms = $9, idle_timeout_ms = $10, updated_at = $11 WHERE id = $12`,
		a.Name, a.Instructions, a.Greeting, a.Voice, a.Model, a.Language, encodeTools(a.Tools), a.DialPolicy,
		a.MaxCallDuration.Milliseconds(), a.IdleTimeout.Milliseconds(), Millis(a.UpdatedAt), a.ID)
	return affected(res, err, "agent")
}

// DeleteAgent removes an agent; one a number uses is apperr.Conflict (the
// foreign key of agent_numbers decides, atomically).
func (s *AgentStore) DeleteAgent(ctx context.Context, id string) error {
	res, err := s.db.write(ctx, `DELETE FROM agents WHERE id = $1`, id)
	if IsForeignKeyViolation(err) {
		return apperr.Wrap(err, apperr.Conflict, "a number uses this agent; assign the number to another agent first")
	}
	return affected(res, err, "agent")
}

func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return translate(err, what)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.NotFound, what+" not found")
	}
	return nil
}

const toolCols = `name, description, parameters, url, timeout_ms, include_caller, created_at, updated_at`

func scanTool(row scanner) (agents.Tool, error) {
	var t agents.Tool
	var params string
	var include int
	var created, updated int64
	if err := row.Scan(&t.Name, &t.Description, &params, &t.URL, &t.TimeoutMs, &include, &created, &updated); err != nil {
		return t, err
	}
	t.Parameters = json.RawMessage(params)
	t.IncludeCaller = include != 0
	t.CreatedAt, t.UpdatedAt = FromMillis(created), FromMillis(updated)
	return t, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ListTools returns every HTTP tool by name.
func (s *AgentStore) ListTools(ctx context.Context) ([]agents.Tool, error) {
	rows, err := s.db.SQL.QueryContext(ctx, `SELECT `+toolCols+` FROM http_tools ORDER BY name`)
	if err != nil {
		return nil, translate(err, "tools")
	}
	defer rows.Close()
	out := []agents.Tool{}
	for rows.Next() {
		t, err := scanTool(rows)
		if err != nil {
			return nil, translate(err, "tools")
		}
		out = append(out, t)
	}
	return out, translate(rows.Err(), "tools")
}

// GetTool returns one HTTP tool.
func (s *AgentStore) GetTool(ctx context.Context, name string) (agents.Tool, error) {
	t, err := scanTool(s.db.SQL.QueryRowContext(ctx, `SELECT `+toolCols+` FROM http_tools WHERE name = $1`, name))
	return t, translate(err, "tool")
}

// ToolSecret returns the sealed signing secret of a tool.
func (s *AgentStore) ToolSecret(ctx context.Context, name string) ([]byte, error) {
	var enc string
	if err := s.db.SQL.QueryRowContext(ctx, `SELECT secret_sealed FROM http_tools WHERE name = $1`, name).Scan(&enc); err != nil {
		return nil, translate(err, "tool")
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("decode sealed secret of %s: %w", name, err)
	}
	return b, nil
}

// InsertTool stores a new tool with its sealed secret.
func (s *AgentStore) InsertTool(ctx context.Context, t agents.Tool, sealed []byte) error {
	_, err := s.db.write(ctx, `INSERT INTO http_tools (`+toolCols+`, secret_sealed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.Name, t.Description, string(t.Parameters), t.URL, t.TimeoutMs, boolInt(t.IncludeCaller), Millis(t.CreatedAt), Millis(t.UpdatedAt), base64.StdEncoding.EncodeToString(sealed))
	if IsUniqueViolation(err) {
		return apperr.Wrap(err, apperr.Conflict, "a tool with that name already exists")
	}
	return translate(err, "tool")
}

// UpdateTool replaces a tool's definition (not its secret).
func (s *AgentStore) UpdateTool(ctx context.Context, t agents.Tool) error {
	res, err := s.db.write(ctx, `UPDATE http_tools SET description = $1, parameters = $2, url = $3, timeout_ms = $4, include_caller = $5, updated_at = $6 WHERE name = $7`,
		t.Description, string(t.Parameters), t.URL, t.TimeoutMs, boolInt(t.IncludeCaller), Millis(t.UpdatedAt), t.Name)
	return affected(res, err, "tool")
}

// SetToolSecret replaces a tool's sealed secret.
func (s *AgentStore) SetToolSecret(ctx context.Context, name string, sealed []byte, at time.Time) error {
	res, err := s.db.write(ctx, `UPDATE http_tools SET secret_sealed = $1, updated_at = $2 WHERE name = $3`, base64.StdEncoding.EncodeToString(sealed), Millis(at), name)
	return affected(res, err, "tool")
}

// DeleteTool removes a tool.
func (s *AgentStore) DeleteTool(ctx context.Context, name string) error {
	res, err := s.db.write(ctx, `DELETE FROM http_tools WHERE name = $1`, name)
	return affected(res, err, "tool")
}

// ListNumbers returns every assignment by number.
func (s *AgentStore) ListNumbers(ctx context.Context) ([]agents.Number, error) {
	rows, err := s.db.SQL.QueryContext(ctx, `SELECT phone_number, agent_id, updated_at FROM agent_numbers ORDER BY phone_number`)
	if err != nil {
		return nil, translate(err, "numbers")
	}
	defer rows.Close()
	out := []agents.Number{}
	for rows.Next() {
		var n agents.Number
		var agent sql.NullString
		var updated int64
		if err := rows.Scan(&n.PhoneNumber, &agent, &updated); err != nil {
			return nil, translate(err, "numbers")
		}
		n.AgentID = agents.DefaultID
		if agent.Valid {
			n.AgentID = agent.String
		}
		n.UpdatedAt = FromMillis(updated)
		out = append(out, n)
	}
	return out, translate(rows.Err(), "numbers")
}

// PutNumber assigns a number (created: it had no assignment). An agent id
// with no agent is apperr.NotFound (the foreign key decides).
func (s *AgentStore) PutNumber(ctx context.Context, n agents.Number) (bool, error) {
	var agent any = n.AgentID
	if n.AgentID == agents.DefaultID {
		agent = nil
	}
	created := false
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE agent_numbers SET agent_id = $1, updated_at = $2 WHERE phone_number = $3`, agent, Millis(n.UpdatedAt), n.PhoneNumber)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k > 0 {
			return nil
		}
		created = true
		_, err = tx.ExecContext(ctx, `INSERT INTO agent_numbers (phone_number, agent_id, updated_at) VALUES ($1, $2, $3)`, n.PhoneNumber, agent, Millis(n.UpdatedAt))
		return err
	})
	switch {
	case IsForeignKeyViolation(err):
		return false, apperr.Wrap(err, apperr.NotFound, "agent not found")
	case IsUniqueViolation(err):
		// Another request inserted the number between our UPDATE and
		// INSERT (PostgreSQL): the assignment exists; ask again.
		return false, apperr.Wrap(err, apperr.Conflict, "the number was assigned at the same moment; retry")
	}
	return created, translate(err, "number")
}

// DeleteNumber removes an assignment.
func (s *AgentStore) DeleteNumber(ctx context.Context, phoneNumber string) error {
	res, err := s.db.write(ctx, `DELETE FROM agent_numbers WHERE phone_number = $1`, phoneNumber)
	return affected(res, err, "number")
}

// CallAgent returns the agent id recorded for a call (” = default).
func (s *AgentStore) CallAgent(ctx context.Context, callSID string) (string, error) {
	var id string
	err := s.db.SQL.QueryRowContext(ctx, `SELECT agent_id FROM calls WHERE call_sid = $1`, callSID).Scan(&id)
	return id, translate(err, "call")
}
