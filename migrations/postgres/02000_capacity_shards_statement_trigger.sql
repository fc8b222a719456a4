-- +goose Up
-- Inserted calls move the capacity shard counters once per statement, not
-- once per row. An admission batch inserts several calls on one shard in
-- one statement; the row trigger of migration 01500 ran a PL/pgSQL call
-- and an UPDATE of that shard row (one more dead row version) for each of
-- them: 12 % of PostgreSQL's CPU under `make load-pg` (issue 16). This
-- statement trigger reads the statement's inserted rows (a transition
-- table) and adds each shard's count in one UPDATE per shard touched,
-- shards in ascending order (a fixed lock order). The counters stay equal
-- to the number of each shard's calls with active = 1, at the same moment
-- as before (after triggers run at the end of the statement either way).
-- Deletes and updates keep the row trigger: a statement trigger with a
-- transition table cannot name the columns of an UPDATE OF.
DROP TRIGGER calls_capacity_shards ON calls;
CREATE TRIGGER calls_capacity_shards AFTER DELETE OR UPDATE OF active, capacity_shard ON calls
    FOR EACH ROW EXECUTE FUNCTION calls_capacity_shards();

-- +goose StatementBegin
CREATE FUNCTION calls_capacity_shards_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
BEGIN
    FOR r IN SELECT capacity_shard AS shard, COUNT(*) AS n FROM inserted_calls
             WHERE active = 1 GROUP BY capacity_shard ORDER BY capacity_shard LOOP
        UPDATE call_capacity_shards SET active = active + r.n WHERE shard = r.shard;
    END LOOP;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER calls_capacity_shards_inserted AFTER INSERT ON calls
    REFERENCING NEW TABLE AS inserted_calls
    FOR EACH STATEMENT EXECUTE FUNCTION calls_capacity_shards_inserted();

-- +goose Down
DROP TRIGGER calls_capacity_shards_inserted ON calls;
DROP FUNCTION calls_capacity_shards_inserted();
DROP TRIGGER calls_capacity_shards ON calls;
CREATE TRIGGER calls_capacity_shards AFTER INSERT OR DELETE OR UPDATE OF active, capacity_shard ON calls
    FOR EACH ROW EXECUTE FUNCTION calls_capacity_shards();
