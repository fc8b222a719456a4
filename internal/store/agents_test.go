package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/agents"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

const testServerKey = "0123456789abcdef0123456789abcdef-test-only"

func agentService(t *testing.T, db *store.DB, key string) *agents.Service {
	t.Helper()
	sealer, err := agents.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return agents.NewService(db.Agents(), nopAuditor{}, sealer, agents.Settings{
		Default:       agents.Agent{Name: "Default", Voice: "alloy", Model: "gpt-realtime"},
		Limits:        agents.Limits{MaxCallDuration: 30 * time.Minute, IdleTimeout: 2 * time.Minute},
		CheckURL:      func(string) error { return nil },
		ServiceNumber: "+14155550100",
	})
}

func TestAgentStore(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := agentService(t, db, testServerKey)
		tool, secret, err := svc.CreateTool(ctx, "test", agents.Tool{Name: "check_order", Description: "Look up an order", URL: "https://api.example.com/voice/check-order",
			Parameters: []byte(`{"type":"object","properties":{"order":{"type":"string"}},"required":["order"]}`)})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "whsec_") || len(secret) != len("whsec_")+43 || tool.TimeoutMs != agents.DefaultToolTimeout {
			t.Fatalf("secret %d chars, tool %+v", len(secret), tool)
		}
		if _, _, err := svc.CreateTool(ctx, "test", tool); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("duplicate tool: %v", err)
		}

		// The sealed secret in the database is not the secret, and only
		// this server's key opens it.
		var stored string
		if err := db.SQL.QueryRowContext(ctx, `SELECT secret_sealed FROM http_tools WHERE name = 'check_order'`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		raw := strings.TrimPrefix(secret, "whsec_")
		if strings.Contains(stored, raw) || strings.Contains(stored, secret) {
			t.Fatal("the secret is stored in clear")
		}
		if got, err := svc.Secret(ctx, "check_order"); err != nil || string(got) != secret {
			t.Fatalf("Secret = %v", err)
		}
		if _, err := agentService(t, db, "another-server-key-0123456789abcdef").Secret(ctx, "check_order"); err == nil {
			t.Fatal("another server key opened the secret")
		}

		// Agents: unknown tool names, create, list (default first).
		in := agents.Agent{Name: "Front desk", Instructions: "Be brief.", Voice: "verse", Model: "gpt-realtime", Tools: []string{"lookup_contact", "check_order"}, DialPolicy: "none"}
		bad := in
		bad.Tools = []string{"check_order", "open_the_vault"}
		if _, err := svc.CreateAgent(ctx, "test", bad); !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "open_the_vault") {
			t.Fatalf("unknown tool: %v", err)
		}
		a, err := svc.CreateAgent(ctx, "test", in)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(a.ID, "agt_") || a.MaxCallDuration != 30*time.Minute || a.IdleTimeout != 2*time.Minute {
			t.Fatalf("agent = %+v", a)
		}
		got, err := svc.GetAgent(ctx, a.ID)
		if err != nil || got.Name != in.Name || len(got.Tools) != 2 || got.Tools[1] != "check_order" || got.DialPolicy != "none" || !got.CreatedAt.Equal(a.CreatedAt) {
			t.Fatalf("GetAgent = %+v, %v", got, err)
		}
		list, err := svc.ListAgents(ctx)
		if err != nil || len(list) != 2 || list[0].ID != agents.DefaultID || list[1].ID != a.ID {
			t.Fatalf("ListAgents = %+v, %v", list, err)
		}
		if _, err := svc.UpdateAgent(ctx, "test", agents.DefaultID, in); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("update default: %v", err)
		}
		if err := svc.DeleteAgent(ctx, "test", agents.DefaultID); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("delete default: %v", err)
		}

		// Numbers: 201/200, unknown agent refused, in-use agent not deletable.
		if _, created, err := svc.PutNumber(ctx, "test", "+14155550101", a.ID); err != nil || !created {
			t.Fatalf("PutNumber = %v, %v", created, err)
		}
		if _, created, err := svc.PutNumber(ctx, "test", "+1 415 555 0101", a.ID); err != nil || created {
			t.Fatalf("PutNumber again = %v, %v", created, err)
		}
		if _, _, err := svc.PutNumber(ctx, "test", "+14155550102", "agt_000000000000000000000000"); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("unknown agent: %v", err)
		}
		if _, _, err := svc.PutNumber(ctx, "test", "+14155550103", agents.DefaultID); err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteAgent(ctx, "test", a.ID); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("delete agent in use: %v", err)
		}
		if err := svc.DeleteTool(ctx, "test", "check_order"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("delete tool in use: %v", err)
		}
		ns, err := svc.ListNumbers(ctx)
		if err != nil || len(ns) != 2 || ns[0].AgentID != a.ID || ns[1].AgentID != agents.DefaultID {
			t.Fatalf("ListNumbers = %+v, %v", ns, err)
		}

		// Which agent answers which number.
		for _, tc := range []struct {
			to, agent string
			ok        bool
		}{
			{"+14155550100", agents.DefaultID, true}, // TWILIO_PHONE_NUMBER
			{"+14155550101", a.ID, true},
			{"+14155550103", agents.DefaultID, true},
			{"+14155550199", "", false},
		} {
			id, ok, err := svc.AgentFor(ctx, tc.to)
			if err != nil || id != tc.agent || ok != tc.ok {
				t.Errorf("AgentFor(%s) = %q, %v, %v", tc.to, id, ok, err)
			}
		}

		// Rotation replaces the secret; the old one no longer opens.
		next, err := svc.RotateSecret(ctx, "test", "check_order")
		if err != nil || next == secret {
			t.Fatalf("RotateSecret = %v", err)
		}
		if got, _ := svc.Secret(ctx, "check_order"); string(got) != next {
			t.Fatal("rotation did not take")
		}

		// Unassign, then the agent and its tool can go.
		if err := svc.DeleteNumber(ctx, "test", "+14155550101"); err != nil {
			t.Fatal(err)
		}
		if id, ok, _ := svc.AgentFor(ctx, "+14155550101"); ok || id != "" {
			t.Fatalf("unassigned number still served: %q", id)
		}
		if err := svc.DeleteAgent(ctx, "test", a.ID); err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteTool(ctx, "test", "check_order"); err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteTool(ctx, "test", "check_order"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("delete twice: %v", err)
		}
	})
}
