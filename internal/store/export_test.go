package store

// CallerStatusBatchSQL is the batched caller-list query, for the tests of
// package store_test that check how PostgreSQL plans it.
const CallerStatusBatchSQL = callerStatusBatchPostgres
