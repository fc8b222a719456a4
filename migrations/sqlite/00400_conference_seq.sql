-- +goose Up
-- The highest SequenceNumber applied to a conference's and a participant's
-- status, so status callbacks that arrive out of order never roll the
-- state back.
ALTER TABLE conferences ADD COLUMN status_seq INTEGER NOT NULL DEFAULT -1;
ALTER TABLE conference_participants ADD COLUMN status_seq INTEGER NOT NULL DEFAULT -1;

-- +goose Down
ALTER TABLE conference_participants DROP COLUMN status_seq;
ALTER TABLE conferences DROP COLUMN status_seq;
