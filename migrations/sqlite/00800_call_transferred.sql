-- +goose Up
-- When a call was handed over from the agent to a conference or a forward
-- (NULL: never). Moving the caller ends the media stream; for such a call
-- the stream's end is not the call's end, Twilio's final status callback
-- is, so the call keeps its record open and its capacity slot.
ALTER TABLE calls ADD COLUMN transferred_at INTEGER;

-- +goose Down
ALTER TABLE calls DROP COLUMN transferred_at;
