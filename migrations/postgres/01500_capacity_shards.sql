-- +goose Up
-- The capacity counter split into 32 shards, so admissions on different
-- shards commit in parallel (issue 16). With one counter row, every
-- admission batch of every instance locked that row until its commit was
-- durable, so commits (each a WAL flush) ran one after another.
--
-- Each shard holds a fixed share of MAX_CONCURRENT_CALLS (max / 32, the
-- first max % 32 shards one more; the admitting code computes it), and
-- an admission batch locks a shard with room (FOR UPDATE SKIP LOCKED)
-- before inserting its calls on it. No shard ever holds more than its
-- share, so the shards together never hold more than max: the cap stays
-- exact across instances by row locks alone. calls.capacity_shard names
-- the shard a call's slot counts on; the trigger keeps each shard's
-- counter equal to the number of its calls with active = 1.
CREATE TABLE call_capacity_shards (
    shard  INTEGER PRIMARY KEY CHECK (shard >= 0 AND shard < 32),
    active BIGINT NOT NULL
);
ALTER TABLE calls ADD COLUMN capacity_shard INTEGER NOT NULL DEFAULT 0;
INSERT INTO call_capacity_shards (shard, active) SELECT s, 0 FROM generate_series(0, 31) AS s;
UPDATE call_capacity_shards SET active = (SELECT COUNT(*) FROM calls WHERE active = 1) WHERE shard = 0;

DROP TRIGGER calls_capacity ON calls;
DROP FUNCTION calls_capacity();
DROP TABLE call_capacity;
-- The total, for reading (tests, operators): admissions lock shards, never this.
CREATE VIEW call_capacity AS SELECT 1 AS id, SUM(active)::BIGINT AS active FROM call_capacity_shards;

-- +goose StatementBegin
CREATE FUNCTION calls_capacity_shards() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.active = 1
       AND (TG_OP = 'DELETE' OR NEW.active <> 1 OR NEW.capacity_shard <> OLD.capacity_shard) THEN
        UPDATE call_capacity_shards SET active = active - 1 WHERE shard = OLD.capacity_shard;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.active = 1
       AND (TG_OP = 'INSERT' OR OLD.active <> 1 OR NEW.capacity_shard <> OLD.capacity_shard) THEN
        UPDATE call_capacity_shards SET active = active + 1 WHERE shard = NEW.capacity_shard;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER calls_capacity_shards AFTER INSERT OR DELETE OR UPDATE OF active, capacity_shard ON calls
    FOR EACH ROW EXECUTE FUNCTION calls_capacity_shards();

-- +goose Down
DROP TRIGGER calls_capacity_shards ON calls;
DROP FUNCTION calls_capacity_shards();
DROP VIEW call_capacity;
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
DROP TABLE call_capacity_shards;
ALTER TABLE calls DROP COLUMN capacity_shard;
