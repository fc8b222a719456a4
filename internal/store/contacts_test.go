package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/contacts"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

func contact(id, name, number string, aliases ...string) contacts.Contact {
	now := time.UnixMilli(1_700_000_000_000).UTC()
	return contacts.Contact{ID: id, Name: name, PhoneNumber: number, Aliases: aliases, CreatedAt: now, UpdatedAt: now}
}

func TestContactStore(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.Contacts()
		alice := contact("ct_00000000000000a1", "Alice Example", "+15555550101", "Ali", "Émile & Co")
		if err := s.InsertContact(ctx, alice); err != nil {
			t.Fatal(err)
		}
		dup := contact("ct_00000000000000a2", "alice EXAMPLE", "+15555550102")
		if err := s.InsertContact(ctx, dup); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("duplicate name: err = %v, want conflict", err)
		}
		got, err := s.GetContact(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != alice.Name || got.PhoneNumber != alice.PhoneNumber || len(got.Aliases) != 2 || got.Aliases[1] != "Émile & Co" || !got.CreatedAt.Equal(alice.CreatedAt) {
			t.Fatalf("GetContact = %+v", got)
		}
		if _, err := s.GetContact(ctx, "ct_0000000000000000"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("missing: err = %v", err)
		}
		svc := contacts.NewService(s, nopAuditor{})
		for _, q := range []string{"ALICE example", "ali", "émile & co"} {
			c, err := svc.FindByNameOrAlias(ctx, q)
			if err != nil || c.ID != alice.ID {
				t.Fatalf("FindByNameOrAlias(%q) = %v, %v", q, c.ID, err)
			}
		}
		if byNum, err := s.ContactByNumber(ctx, "+15555550101"); err != nil || byNum.ID != alice.ID {
			t.Fatalf("ContactByNumber = %v, %v", byNum.ID, err)
		}

		// Replace-all is atomic: a conflict inside leaves the old set.
		bad := []contacts.Contact{contact("ct_00000000000000b1", "Bob", "+15555550103"), contact("ct_00000000000000b2", "BOB", "+15555550104")}
		if err := s.ReplaceContacts(ctx, bad, time.Now()); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("replace with duplicates: err = %v", err)
		}
		list, err := s.ListContacts(ctx)
		if err != nil || len(list) != 1 || list[0].ID != alice.ID {
			t.Fatalf("after failed replace: %v, %v", list, err)
		}
		good := []contacts.Contact{contact("ct_00000000000000c1", "Carol", "+15555550105"), contact("ct_00000000000000c2", "Dave", "+15555550106")}
		if err := s.ReplaceContacts(ctx, good, time.Now()); err != nil {
			t.Fatal(err)
		}
		if list, _ = s.ListContacts(ctx); len(list) != 2 || list[0].Name != "Carol" {
			t.Fatalf("after replace: %+v", list)
		}
		upd := good[1]
		upd.Name = "carol"
		if err := s.UpdateContact(ctx, upd); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("rename onto another name: err = %v", err)
		}
		if err := s.DeleteContact(ctx, good[0].ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteContact(ctx, good[0].ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("second delete: err = %v", err)
		}
	})
}
