package store

// CallerStatusBatchSQL is the batched caller-list query, for the tests of
// package store_test that check how PostgreSQL plans it.
const CallerStatusBatchSQL = callerStatusBatchPostgres

// CallerLookupsWaiting is how many caller-list lookups wait for a batch
// (PostgreSQL).
func (db *DB) CallerLookupsWaiting() int { return db.callerLookups.Waiting() }
