-- +goose Up
-- The number of calls holding a capacity slot (calls.active = 1), kept by
-- triggers so admission reads one row instead of counting every live call
-- (the count grew with the number of live calls and dominated the
-- /voice/incoming profile). Every change of calls.active, by any query,
-- moves the counter; nothing in the code has to remember to.
CREATE TABLE call_capacity (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    active INTEGER NOT NULL
);
INSERT INTO call_capacity (id, active) SELECT 1, COUNT(*) FROM calls WHERE active = 1;

-- +goose StatementBegin
CREATE TRIGGER calls_capacity_insert AFTER INSERT ON calls WHEN NEW.active = 1
BEGIN
    UPDATE call_capacity SET active = active + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER calls_capacity_update AFTER UPDATE OF active ON calls WHEN NEW.active <> OLD.active
BEGIN
    UPDATE call_capacity SET active = active + NEW.active - OLD.active WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER calls_capacity_delete AFTER DELETE ON calls WHEN OLD.active = 1
BEGIN
    UPDATE call_capacity SET active = active - 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER calls_capacity_delete;
DROP TRIGGER calls_capacity_update;
DROP TRIGGER calls_capacity_insert;
DROP TABLE call_capacity;
