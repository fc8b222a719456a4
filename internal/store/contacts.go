package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/contacts"
)

// ContactStore keeps contacts.
type ContactStore struct{ db *DB }

// Contacts returns the contact store.
func (db *DB) Contacts() *ContactStore { return &ContactStore{db: db} }

var _ contacts.Store = (*ContactStore)(nil)

const contactCols = `id, name, phone_number, aliases, note, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanContact(row scanner) (contacts.Contact, error) {
	var c contacts.Contact
	var aliases string
	var created, updated int64
	if err := row.Scan(&c.ID, &c.Name, &c.PhoneNumber, &aliases, &c.Note, &created, &updated); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(aliases), &c.Aliases); err != nil {
		return c, fmt.Errorf("decode aliases of %s: %w", c.ID, err)
	}
	if c.Aliases == nil {
		c.Aliases = []string{}
	}
	c.CreatedAt, c.UpdatedAt = FromMillis(created), FromMillis(updated)
	return c, nil
}

func (s *ContactStore) query(ctx context.Context, q string, args ...any) ([]contacts.Contact, error) {
	rows, err := s.db.SQL.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(err, "contacts")
	}
	defer rows.Close()
	out := []contacts.Contact{}
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, translate(err, "contacts")
		}
		out = append(out, c)
	}
	return out, translate(rows.Err(), "contacts")
}

// ListContacts returns every contact ordered by name.
func (s *ContactStore) ListContacts(ctx context.Context) ([]contacts.Contact, error) {
	return s.query(ctx, `SELECT `+contactCols+` FROM contacts ORDER BY name_key, id`)
}

// GetContact returns one contact.
func (s *ContactStore) GetContact(ctx context.Context, id string) (contacts.Contact, error) {
	c, err := scanContact(s.db.SQL.QueryRowContext(ctx, `SELECT `+contactCols+` FROM contacts WHERE id = $1`, id))
	return c, translate(err, "contact")
}

// InsertContact stores a new contact; a taken name is apperr.Conflict.
func (s *ContactStore) InsertContact(ctx context.Context, c contacts.Contact) error {
	return insertContact(ctx, s.db.SQL, c)
}

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func insertContact(ctx context.Context, db execer, c contacts.Contact) error {
	aliases, err := encodeAliases(c.Aliases)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `INSERT INTO contacts (id, name, name_key, phone_number, aliases, note, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.ID, c.Name, contacts.Key(c.Name), c.PhoneNumber, aliases, c.Note, Millis(c.CreatedAt), Millis(c.UpdatedAt))
	if IsUniqueViolation(err) {
		return apperr.Wrap(err, apperr.Conflict, "a contact with that name already exists")
	}
	return translate(err, "contact")
}

func encodeAliases(a []string) (string, error) {
	if a == nil {
		a = []string{}
	}
	b, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("encode aliases: %w", err)
	}
	return string(b), nil
}

// UpdateContact replaces a contact's fields.
func (s *ContactStore) UpdateContact(ctx context.Context, c contacts.Contact) error {
	aliases, err := encodeAliases(c.Aliases)
	if err != nil {
		return err
	}
	res, err := s.db.write(ctx, `UPDATE contacts SET name = $1, name_key = $2, phone_number = $3, aliases = $4, note = $5, updated_at = $6 WHERE id = $7`,
		c.Name, contacts.Key(c.Name), c.PhoneNumber, aliases, c.Note, Millis(c.UpdatedAt), c.ID)
	if IsUniqueViolation(err) {
		return apperr.Wrap(err, apperr.Conflict, "a contact with that name already exists")
	}
	if err != nil {
		return translate(err, "contact")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.NotFound, "contact not found")
	}
	return nil
}

// DeleteContact removes a contact.
func (s *ContactStore) DeleteContact(ctx context.Context, id string) error {
	res, err := s.db.write(ctx, `DELETE FROM contacts WHERE id = $1`, id)
	if err != nil {
		return translate(err, "contact")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.NotFound, "contact not found")
	}
	return nil
}

// ReplaceContacts deletes every contact and inserts cs, in one
// transaction: on any error nothing changes.
func (s *ContactStore) ReplaceContacts(ctx context.Context, cs []contacts.Contact, _ time.Time) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM contacts`); err != nil {
			return translate(err, "contacts")
		}
		for _, c := range cs {
			if err := insertContact(ctx, tx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

// ContactsMatching returns candidates for a name-or-alias lookup: the
// contact whose name key is key, and every contact with aliases (the
// service compares them exactly, Unicode-aware, which SQL LIKE on JSON
// text cannot do in both engines). At most MaxContacts rows.
func (s *ContactStore) ContactsMatching(ctx context.Context, key string) ([]contacts.Contact, error) {
	return s.query(ctx, `SELECT `+contactCols+` FROM contacts WHERE name_key = $1 OR aliases <> '[]' ORDER BY name_key, id`, key)
}

// ContactByNumber returns the first contact (by name) with the number.
func (s *ContactStore) ContactByNumber(ctx context.Context, number string) (contacts.Contact, error) {
	c, err := scanContact(s.db.SQL.QueryRowContext(ctx, `SELECT `+contactCols+` FROM contacts WHERE phone_number = $1 ORDER BY name_key, id LIMIT 1`, number))
	return c, translate(err, "contact")
}
