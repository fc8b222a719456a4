-- +goose Up
-- The capacity shard rows are updated by every admitted call and ended
-- call (the trigger of migration 01500), thousands of times a second
-- under a burst, and every admission batch reads all 32 of them (the
-- claim and the "no shard over its share" guard). At the default
-- fillfactor (100) PostgreSQL prunes a page's dead row versions only once
-- the page is almost full, so each read stepped over hundreds to
-- thousands of dead versions, and the table grew to tens of pages in 10 s
-- of load (issue 16). At fillfactor 10 a page is pruned as soon as less
-- than 90 % of it is free: the 32 rows stay on one or two pages with few
-- dead versions. The setting takes effect on the next page access (no
-- rewrite needed); autovacuum truncates any empty pages left at the end.
ALTER TABLE call_capacity_shards SET (fillfactor = 10);

-- +goose Down
ALTER TABLE call_capacity_shards RESET (fillfactor);
