package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"strings"
	"time"

	"github.com/voiceagent/voiceagent/internal/apitoken"
)

// APITokenStore keeps scoped API tokens (hashes only).
type APITokenStore struct{ db *DB }

// APITokens returns the scoped-token store.
func (db *DB) APITokens() *APITokenStore { return &APITokenStore{db: db} }

var _ apitoken.Store = (*APITokenStore)(nil)

// InsertAPIToken implements apitoken.Store.
func (s *APITokenStore) InsertAPIToken(ctx context.Context, t apitoken.Token, hash [32]byte) error {
	_, err := s.db.write(ctx, `INSERT INTO api_tokens (name, token_hash, scopes, created_by, created_at, expires_at, last_used_at)
VALUES ($1, $2, $3, $4, $5, $6, NULL)`, t.Name, hex.EncodeToString(hash[:]), apitoken.Join(t.Scopes), t.CreatedBy, Millis(t.CreatedAt), nullMillis(t.ExpiresAt))
	return translate(err, "API token")
}

const apiTokenCols = `name, scopes, created_by, created_at, expires_at, last_used_at`

// ListAPITokens implements apitoken.Store.
func (s *APITokenStore) ListAPITokens(ctx context.Context) ([]apitoken.Token, error) {
	rows, err := s.db.SQL.QueryContext(ctx, `SELECT `+apiTokenCols+` FROM api_tokens ORDER BY name`)
	if err != nil {
		return nil, translate(err, "API tokens")
	}
	defer rows.Close()
	out := []apitoken.Token{}
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, translate(err, "API tokens")
		}
		out = append(out, t)
	}
	return out, translate(rows.Err(), "API tokens")
}

// DeleteAPIToken implements apitoken.Store.
func (s *APITokenStore) DeleteAPIToken(ctx context.Context, name string) error {
	res, err := s.db.write(ctx, `DELETE FROM api_tokens WHERE name = $1`, name)
	if err != nil {
		return translate(err, "API token")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return translate(sql.ErrNoRows, "API token")
	}
	return nil
}

// APITokenByHash implements apitoken.Store: one lookup on the unique index.
func (s *APITokenStore) APITokenByHash(ctx context.Context, hash [32]byte) (apitoken.Token, error) {
	t, err := scanAPIToken(s.db.queryRow(ctx, `SELECT `+apiTokenCols+` FROM api_tokens WHERE token_hash = $1`, hex.EncodeToString(hash[:])))
	return t, translate(err, "API token")
}

// TouchAPITokens implements apitoken.Store; a time never moves backwards
// (another instance may have written a later one).
func (s *APITokenStore) TouchAPITokens(ctx context.Context, used map[string]time.Time) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		for name, at := range used {
			if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $2
WHERE name = $1 AND (last_used_at IS NULL OR last_used_at < $2)`, name, Millis(at)); err != nil {
				return translate(err, "API token")
			}
		}
		return nil
	})
}

func scanAPIToken(row rowScanner) (apitoken.Token, error) {
	var t apitoken.Token
	var scopes string
	var created int64
	var expires, used sql.NullInt64
	if err := row.Scan(&t.Name, &scopes, &t.CreatedBy, &created, &expires, &used); err != nil {
		return t, err
	}
	for _, p := range strings.Split(scopes, ",") {
		if p != "" {
			t.Scopes = append(t.Scopes, apitoken.Scope(p))
		}
	}
	t.CreatedAt = FromMillis(created)
	if expires.Valid {
		t.ExpiresAt = FromMillis(expires.Int64)
	}
	if used.Valid {
		t.LastUsedAt = FromMillis(used.Int64)
	}
	return t, nil
}

func nullMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return Millis(t)
}
