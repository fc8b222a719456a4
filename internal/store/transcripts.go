package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/voiceagent/voiceagent/internal/transcript"
)

// TranscriptStore keeps what the caller and the agent said, per call.
type TranscriptStore struct{ db *DB }

// Transcripts returns the transcript store.
func (db *DB) Transcripts() *TranscriptStore { return &TranscriptStore{db: db} }

var _ transcript.Store = (*TranscriptStore)(nil)

// InsertTranscripts writes a batch of lines in one transaction. Lines of
// many calls share a batch, so one bad line must not lose the others: when
// the batch fails, each line is retried on its own and the ones the
// database still refuses are dropped and reported as a
// transcript.DroppedLinesError.
func (s *TranscriptStore) InsertTranscripts(ctx context.Context, lines []transcript.Line) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, insertTranscript)
		if err != nil {
			return fmt.Errorf("prepare transcript insert: %w", err)
		}
		defer stmt.Close()
		for _, l := range lines {
			if _, err := stmt.ExecContext(ctx, l.CallSID, l.Role, l.Text, Millis(l.Time)); err != nil {
				return translate(err, "transcript line")
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return err
	case len(lines) == 1:
		return transcript.DroppedLinesError{N: 1, Err: err}
	}
	return s.insertEach(ctx, lines)
}

const insertTranscript = `INSERT INTO transcripts (call_sid, role, text, created_at) VALUES ($1, $2, $3, $4)`

// insertEach stores lines one statement each, dropping those refused.
func (s *TranscriptStore) insertEach(ctx context.Context, lines []transcript.Line) error {
	dropped := transcript.DroppedLinesError{}
	for _, l := range lines {
		if _, err := s.db.write(ctx, insertTranscript, l.CallSID, l.Role, l.Text, Millis(l.Time)); err != nil {
			if ctx.Err() != nil {
				return err
			}
			dropped.N++
			if dropped.Err == nil {
				dropped.Err = translate(err, "transcript line")
			}
		}
	}
	if dropped.N > 0 {
		return dropped
	}
	return nil
}

// ListTranscripts returns the lines of one call in the order they were
// said.
func (s *TranscriptStore) ListTranscripts(ctx context.Context, callSID string) ([]transcript.Line, error) {
	rows, err := s.db.SQL.QueryContext(ctx, `SELECT call_sid, role, text, created_at FROM transcripts WHERE call_sid = $1 ORDER BY id`, callSID)
	if err != nil {
		return nil, translate(err, "transcripts")
	}
	defer rows.Close()
	var out []transcript.Line
	for rows.Next() {
		var l transcript.Line
		var at int64
		if err := rows.Scan(&l.CallSID, &l.Role, &l.Text, &at); err != nil {
			return nil, translate(err, "transcripts")
		}
		l.Time = FromMillis(at)
		out = append(out, l)
	}
	return out, translate(rows.Err(), "transcripts")
}

// DeleteTranscriptsForCall erases one call's lines and returns how many
// there were.
func (s *TranscriptStore) DeleteTranscriptsForCall(ctx context.Context, callSID string) (int64, error) {
	res, err := s.db.write(ctx, `DELETE FROM transcripts WHERE call_sid = $1`, callSID)
	if err != nil {
		return 0, translate(err, "transcripts")
	}
	return res.RowsAffected()
}

// DeleteTranscriptsBefore erases lines older than t (the retention
// window) and returns how many went.
func (s *TranscriptStore) DeleteTranscriptsBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.db.write(ctx, `DELETE FROM transcripts WHERE created_at < $1`, Millis(t))
	if err != nil {
		return 0, translate(err, "transcripts")
	}
	return res.RowsAffected()
}
