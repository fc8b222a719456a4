package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/voiceagent/voiceagent/internal/voice"
)

// CallAnswered reports whether voiceagent answered the call (its policy
// accepted it); a refused call (deny list, blocked country, capacity)
// is never acted on by the operator API, whatever Twilio's status says.
func (s *ConferenceStore) CallAnswered(ctx context.Context, callSID string) (bool, error) {
	var decision string
	err := s.db.SQL.QueryRowContext(ctx, `SELECT decision FROM calls WHERE call_sid = $1`, callSID).Scan(&decision)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, translate(err, "call")
	}
	return decision == string(voice.Accept), nil
}
