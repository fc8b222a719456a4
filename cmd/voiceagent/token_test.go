package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/store"
)

// TestTokenCommands: create prints the token once (on stdout, alone), list
// shows it without the secret, revoke removes it; all three work on the
// server's database and are audited.
func TestTokenCommands(t *testing.T) {
	t.Chdir(t.TempDir())
	dir := t.TempDir()
	env := envOf(map[string]string{"DATA_DIR": dir, "ENV_FILE": ""})
	tok := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"token"}, args...), env, &out, &errb)
		return out.String(), errb.String(), err
	}
	secret, note, err := tok("create", "--name", "grafana", "--scopes", "metrics:read,calls:read", "--expires", "90d")
	if err != nil {
		t.Fatalf("create: %v %s", err, note)
	}
	secret = strings.TrimSpace(secret)
	if !strings.HasPrefix(secret, "va_") || len(secret) != 46 || !strings.Contains(note, "only this once") {
		t.Fatalf("create printed %q / %q", secret, note)
	}
	list, _, err := tok("list")
	if err != nil || !strings.Contains(list, "grafana") || !strings.Contains(list, "calls:read,metrics:read") || strings.Contains(list, secret) {
		t.Fatalf("list = %q %v", list, err)
	}
	for _, bad := range [][]string{{"create", "--name", "x"}, {"create", "--name", "x", "--scopes", "root"}, {"create", "--name", "x", "--scopes", "admin", "--expires", "soon"}, {"revoke"}, {"frobnicate"}, {}} {
		if _, _, err := tok(bad...); err == nil || exitCode(err) != 2 {
			t.Fatalf("token %v: err = %v, want a usage error", bad, err)
		}
	}
	if _, _, err := tok("create", "--name", "grafana", "--scopes", "admin"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("duplicate create: %v", err)
	}
	// The server on the same database accepts it.
	db, err := store.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // after the server's own cleanup
	srv := apptest.New(t, apptest.Options{DB: db})
	req := httptest.NewRequest("GET", "/api/calls", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	w := httptest.NewRecorder()
	srv.Server.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("server with the CLI's token: %d %s", w.Code, w.Body)
	}
	if out, _, err := tok("revoke", "grafana"); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %q %v", out, err)
	}
	if _, _, err := tok("revoke", "grafana"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("second revoke: %v", err)
	}
	var n int
	if err := db.SQL.QueryRow(`SELECT COUNT(*) FROM audit_events WHERE type = 'api_token_change' AND actor = 'cli'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("audited CLI changes = %d %v, want 2", n, err)
	}
}
