package storage

import (
	"context"
	"fmt"
)

// Migration is one step of a component's tables. Components (tables,
// solution, security, ...) export their migrations; whoever opens the
// database passes them all. A migration runs once per database, in version
// order within its component, each in a transaction of its own.
type Migration struct {
	// Component names the owner, e.g. "tables".
	Component string
	// Version orders a component's migrations, from 1.
	Version int
	// Postgres and SQLite are the statements, separated by semicolons, for
	// each dialect. PostgreSQL runs them in the log's schema.
	Postgres, SQLite string
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS engine_migrations (
	component TEXT NOT NULL,
	version BIGINT NOT NULL,
	applied_at BIGINT NOT NULL,
	PRIMARY KEY (component, version)
)`

// migrateLockKey is the advisory lock that serializes migrations of several
// processes on PostgreSQL. (SQLite serializes them by its single writer.)
const migrateLockKey = 0x62697a6d // "bizm"

func migrate(ctx context.Context, db DB, migrations []Migration) error {
	if err := run(ctx, db, func(tx Tx) error {
		_, err := tx.Exec(ctx, migrationsTable)
		return err
	}); err != nil {
		return fmt.Errorf("storage: create migrations table: %w", err)
	}
	for _, m := range migrations {
		err := run(ctx, db, func(tx Tx) error {
			if db.Dialect() == Postgres {
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(migrateLockKey)); err != nil {
					return err
				}
			}
			var n int64
			if err := scanOne(ctx, tx, []any{&n}, `SELECT count(*) FROM engine_migrations WHERE component = ? AND version = ?`, m.Component, m.Version); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			stmt := m.SQLite
			if db.Dialect() == Postgres {
				stmt = m.Postgres
			}
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO engine_migrations (component, version, applied_at) VALUES (?, ?, ?)`, m.Component, m.Version, nowMicros())
			return err
		})
		if err != nil {
			return fmt.Errorf("storage: migrate %s to version %d: %w", m.Component, m.Version, err)
		}
	}
	return nil
}

// run runs fn in a transaction and commits it when fn succeeds.
func run(ctx context.Context, db DB, fn func(Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Run runs fn in a transaction of db, commits it when fn returns nil and
// rolls it back otherwise.
func Run(ctx context.Context, db DB, fn func(Tx) error) error { return run(ctx, db, fn) }

// ScanOne runs a query that returns at most one row and scans it into dest;
// it returns ErrNoRows when there is none.
func ScanOne(ctx context.Context, q Querier, dest []any, query string, args ...any) error {
	return scanOne(ctx, q, dest, query, args...)
}

func scanOne(ctx context.Context, q Querier, dest []any, query string, args ...any) error {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Err()
}
