// Package migrations embeds the versioned SQL schema of both database
// engines. Files are append-only: a change to the schema is a new file.
//
// Numbering: the first schema is 00001; later issues take their own
// hundreds (00300 for inbound calls, 00400 for the operator API, ...) so
// parallel work never collides on a version.
package migrations

import "embed"

// FS holds sqlite/*.sql and postgres/*.sql in goose's format.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS
