// Package storage is the engine's database: the event log and the engine's
// own tables (rows, solutions, idempotency keys, and later jobs) in one
// database, so that one transaction writes rows and events together.
//
// It hides the two backends (PostgreSQL through pgx, SQLite through
// database/sql) behind a small SQL interface. Queries are written once with
// `?` placeholders; the PostgreSQL side numbers them ($1, $2, ...). Where the
// SQL dialects differ (JSON access, types), callers ask the [Dialect].
// Values cross the boundary as string, int64, float64, bool, []byte and nil;
// times are stored as int64 microseconds since the Unix epoch (UTC).
package storage

import (
	"context"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// DB is the engine's database. It is safe for concurrent use.
type DB interface {
	Querier
	// Log is the event log in this database.
	Log() eventlog.Store
	// Dialect says which SQL the database speaks.
	Dialect() Dialect
	// Begin starts a transaction over the log and the engine's tables.
	//
	// On SQLite there is one writer: a transaction holds it until it ends,
	// and every other write (also Exec on the DB, and Log().Append) waits.
	// So a goroutine that holds a Tx must write through that Tx only.
	Begin(ctx context.Context) (Tx, error)
	// Close closes the log and the connections.
	Close() error
}

// Querier runs SQL. Query's rows must be closed.
type Querier interface {
	// Exec runs a statement and returns the number of rows it affected. On
	// a DB (outside a transaction) each Exec is a transaction of its own.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Tx is a transaction over the log and the engine's tables. It is used by
// one goroutine. `defer tx.Rollback(ctx)` is always safe.
type Tx interface {
	Querier
	eventlog.Tx
}

// Rows is the result of a query.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Dialect is the SQL a database speaks.
type Dialect string

// The dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)
