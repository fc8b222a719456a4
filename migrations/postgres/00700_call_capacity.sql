-- +goose Up
-- The number of calls holding a capacity slot (calls.active = 1), kept by a
-- trigger so admission reads (and locks) one row instead of counting every
-- live call under an advisory lock. Every change of calls.active, by any
-- query on any instance, moves the counter.
CREATE TABLE call_capacity (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    active BIGINT NOT NULL
);
INSERT INTO call_capacity (id, active) SELECT 1, COUNT(*) FROM calls WHERE active = 1;

-- +goose StatementBegin
CREATE FUNCTION calls_capacity() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta BIGINT := 0;
BEGIN
    IF TG_OP = 'INSERT' THEN
        delta := NEW.active;
    ELSIF TG_OP = 'UPDATE' THEN
        delta := NEW.active - OLD.active;
    ELSE
        delta := -OLD.active;
    END IF;
    IF delta <> 0 THEN
        UPDATE call_capacity SET active = active + delta WHERE id = 1;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER calls_capacity AFTER INSERT OR DELETE OR UPDATE OF active ON calls
    FOR EACH ROW EXECUTE FUNCTION calls_capacity();

-- +goose Down
DROP TRIGGER calls_capacity ON calls;
DROP FUNCTION calls_capacity();
DROP TABLE call_capacity;
