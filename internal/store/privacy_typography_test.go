package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// TestErasureFindsTypographicForms: a transcript or note that writes the
// subject's number with en dashes, no-break or thin spaces or a minus sign is found by
// the export and rewritten by the erasure, like the ASCII forms.
func TestErasureFindsTypographicForms(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sid := "CA00000000000000000000000000000077"
		exec(t, db, `INSERT INTO calls (call_sid, from_number, to_number, caller_name, decision, twiml, created_at, updated_at) VALUES ($1, $2, $3, '', 'accept', '<Response/>', 1, 1)`, sid, "+14155550123", "+15005550006")
		texts := []string{"call 415–555–0177 today", "or +1\u00a0415\u00a0555\u00a00177", "or (415)\u2009555−0177", "keep 415–555–0178"}
		for _, tx := range texts {
			exec(t, db, `INSERT INTO transcripts (call_sid, role, text, created_at) VALUES ($1, 'caller', $2, 1)`, sid, tx)
		}
		ex, err := db.Privacy().ExportNumber(ctx, "+14155550177")
		if err != nil {
			t.Fatal(err)
		}
		if got := len(ex.Transcripts); got != 3 {
			t.Fatalf("exported transcripts = %d, want 3", got)
		}
		if _, err := db.Privacy().EraseNumber(ctx, "+14155550177", "erased:h"); err != nil {
			t.Fatal(err)
		}
		rows, err := db.SQL.QueryContext(ctx, `SELECT text FROM transcripts ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		for _, s := range got[:3] {
			if strings.Contains(s, "0177") || !strings.Contains(s, "erased:h") {
				t.Errorf("after the erasure: %q", s)
			}
		}
		if got[3] != texts[3] {
			t.Errorf("another number changed: %q", got[3])
		}
	})
}
